"""The shipped digits ViT: plain safetensors, a complete card, and the card's held-out accuracy recomputed here from
the weights on the whole test split; the text-model loaders do not list it."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.train.checkpoints import MODELS_DIR, shipped_names
from core.train.digits import SPLIT_SEED, SPLIT_SIZES, digit_splits, to_model_input
from core.train.vit_training import load_vit
from core.vit import TinyViT, ViTConfig

STEM = MODELS_DIR / "vit-digits"
BAR = 0.95  # the bar for held-out accuracy


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(STEM.with_suffix(".json").read_text(encoding="utf-8"))


def test_card_has_the_text_models_fields_and_says_vit(card):
    for key in ("name", "task", "description", "seed", "spec", "train", "held_out", "training_time_s", "steps",
                "threads", "device", "curve", "family", "model_class", "config", "n_parameters", "file_bytes", "date",
                "torch", "data"):  # fmt: skip
        assert key in card, key
    assert card["family"] == "vit" and card["model_class"] == "TinyViT" and card["task"] == "digits"
    assert card["data"]["sizes"] == SPLIT_SIZES and card["data"]["split_seed"] == SPLIT_SEED
    assert "BSD-3" in card["data"]["licence"] and "UCI" in card["data"]["name"]
    assert card["held_out"]["split"] == "test" and card["held_out"]["n"] == SPLIT_SIZES["test"]
    assert card["held_out"]["accuracy"] >= BAR
    assert 0 < card["training_time_s"] < 900, "must train in minutes on the course's CPU"
    assert card["file_bytes"] == STEM.with_suffix(".safetensors").stat().st_size < 1_500_000


def test_weights_are_plain_safetensors_matching_the_config(card):
    raw = STEM.with_suffix(".safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header length, JSON header, raw tensor bytes
    assert json.loads(raw[8 : 8 + header_len])["__metadata__"] == {"task": "digits", "family": "vit"}
    tensors = load_file(str(STEM.with_suffix(".safetensors")))
    assert all(t.dtype == torch.float32 for t in tensors.values())
    model = TinyViT(ViTConfig(**card["config"]))
    assert set(tensors) == set(model.state_dict())
    assert card["n_parameters"] == sum(t.numel() for t in tensors.values())


def test_held_out_accuracy_recomputed_from_the_weights_equals_the_card(card):
    """Independent of core.train.vit_training.accuracy: fill a fresh TinyViT from the safetensors file and count."""
    model = TinyViT(ViTConfig(**card["config"]))
    model.load_state_dict(load_file(str(STEM.with_suffix(".safetensors"))), strict=True)
    test = digit_splits()["test"]
    with torch.no_grad():
        logits = model.eval()(to_model_input(test.images)).logits  # (360, 10)
    right = (logits.argmax(-1).numpy() == test.labels).mean()
    assert right >= BAR
    assert right == pytest.approx(card["held_out"]["accuracy"], abs=1e-6)


def test_load_vit_gives_the_same_predictions():
    model, _ = load_vit(STEM)
    test = digit_splits()["test"]
    reference = TinyViT(model.config)
    reference.load_state_dict(load_file(str(STEM.with_suffix(".safetensors"))))
    with torch.no_grad():
        x = to_model_input(test.images[:20])
        np.testing.assert_array_equal(model(x).logits.numpy(), reference.eval()(x).logits.numpy())


def test_text_model_listings_leave_the_vit_out():
    assert "vit-digits" not in shipped_names()
    assert {"copy", "reverse", "sort", "induction", "dates", "masked"} <= set(shipped_names())
