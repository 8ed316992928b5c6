"""core.train.digits and core.train.vit_training: the fixed split, a learner's picture made into a data-set digit,
the shift augmentation against a loop, a few training steps, and the safetensors round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.testing import assert_close

from core.lab.image_input import ImageInputError
from core.train.digits import SPLIT_SIZES, digit_from_image, digit_splits, to_model_input
from core.train.training import TrainConfig
from core.train.vit_training import ViTRecipe, accuracy, build_vit, load_vit, save_vit, shift_batch, train_vit
from core.vit import ViTConfig

SMALL = ViTConfig(image_size=8, patch_size=2, channels=1, d_model=16, n_heads=2, n_layers=1, d_ff=32, n_classes=10)


def test_split_is_fixed_disjoint_complete_and_stratified():
    splits = digit_splits()
    data = load_digits()
    assert {name: len(s) for name, s in splits.items()} == SPLIT_SIZES
    rows = np.concatenate([s.rows for s in splits.values()])
    assert sorted(rows.tolist()) == list(range(len(data.target)))  # every digit once, no overlap
    for split in splits.values():
        np.testing.assert_array_equal(split.images, data.images[split.rows])
        np.testing.assert_array_equal(split.labels, data.target[split.rows])
    counts = np.bincount(splits["test"].labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 360 / 10, stratified
    test = splits["test"]
    assert all((test.labels[test.of_class(d)] == d).all() for d in range(10))


def test_to_model_input_scales_to_the_unit_range():
    x = to_model_input(np.full((3, 8, 8), 16.0))
    assert x.shape == (3, 1, 8, 8) and x.dtype == torch.float32
    assert_close(x, torch.ones(3, 1, 8, 8))


def _bitmap_picture(digit: np.ndarray, scale: int = 12, invert: bool = False) -> np.ndarray:
    """A data-set digit drawn as a big picture: black ink (255 - 255·v/16) on white, each pixel a scale×scale block,
    with a white margin; RGB uint8."""
    ink = np.kron(digit / 16.0, np.ones((scale, scale)))
    grey = np.pad(255 * (1 - ink), 20, constant_values=255)
    grey = 255 - grey if invert else grey
    return np.repeat(grey.round().astype(np.uint8)[..., None], 3, axis=-1)


def test_a_picture_of_a_digit_becomes_the_data_sets_format():
    test = digit_splits()["test"]
    digit = test.images[int(test.of_class(0)[0])]
    for invert in (False, True):
        made, message = digit_from_image(_bitmap_picture(digit, invert=invert))
        assert made.shape == (8, 8) and made.dtype == np.float32
        assert made.min() >= 0 and made.max() <= 16 and np.all(made == made.round())
        assert ("inverted" in message) == invert and "0–16" in message
        # ink where the digit has ink: cropping may move the strokes by a pixel, so compare the centres of mass
        ys, xs = np.mgrid[0:8, 0:8]
        for weights in (made, digit):
            assert weights.sum() > 0
        centre = [(float((made * a).sum() / made.sum()), float((digit * a).sum() / digit.sum())) for a in (ys, xs)]
        assert all(abs(m - d) < 1.0 for m, d in centre), centre


@pytest.mark.parametrize("colour", [0, 128, 255])
def test_a_flat_picture_is_refused_with_a_message(colour):
    with pytest.raises(ImageInputError, match="no digit"):
        digit_from_image(np.full((40, 30, 3), colour, dtype=np.uint8))


def test_shift_batch_matches_a_crop_loop():
    images = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    shifted = shift_batch(images, 2, torch.Generator().manual_seed(5))
    offsets = torch.randint(0, 5, (6, 2), generator=torch.Generator().manual_seed(5))  # the same draws
    padded = F.pad(images, (2, 2, 2, 2))
    expected = torch.stack([padded[b, :, y : y + 8, x : x + 8] for b, (y, x) in enumerate(offsets.tolist())])
    assert torch.equal(shifted, expected)
    assert shift_batch(images, 0, torch.Generator()) is images


def test_a_short_run_learns_and_the_files_round_trip(tmp_path):
    recipe = ViTRecipe(SMALL, TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup=10, seed=1, eval_every=75),
                       max_shift=0)
    splits = digit_splits()
    model = build_vit(SMALL, seed=1)
    curves = train_vit(model, recipe, splits)
    assert curves["eval_steps"] == [75, 150] and len(curves["loss"]) == 150
    assert np.mean(curves["loss"][-10:]) < np.mean(curves["loss"][:10])
    assert accuracy(model, splits["test"]) > 0.4  # far above chance (0.1) after 150 steps
    card = save_vit(model, tmp_path / "tiny", {"seed": 1, "held_out": {"accuracy": 0.0}})
    loaded, read = load_vit(tmp_path / "tiny")
    assert read == card and read["family"] == "vit" and read["config"] == dataclasses.asdict(SMALL)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert read["n_parameters"] == sum(p.numel() for p in model.parameters())


def test_loading_refuses_weights_that_do_not_match_the_card(tmp_path):
    save_vit(build_vit(SMALL, seed=0), tmp_path / "m", {"seed": 0})
    card = (tmp_path / "m.json").read_text().replace('"d_model": 16', '"d_model": 24')
    (tmp_path / "m.json").write_text(card)
    with pytest.raises(ValueError, match="do not match"):
        load_vit(tmp_path / "m")
