"""AppTest of the Vision Transformer page: its charts carry the numbers the core computes for the picked digit
(trained ViT from the shipped safetensors, untrained ViT from the sidebar seed, identity-projection baseline),
another digit changes them, and uploads are converted or refused with a message, never a traceback."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from core.lab.image_input import load_image
from core.train.checkpoints import MODELS_DIR
from core.train.digits import digit_from_image, digit_splits, to_model_input
from core.train.vit_training import build_vit, load_vit
from core.vit import attention_rollout, pixel_similarity_attention
from tests.apptest_utils import chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as array

VIT = "pages/beyond_text/vision_transformer.py"
SEED = 0  # the sidebar's default seed


def chart(at, title_start: str) -> dict:
    specs = chart_specs(at)
    found = [s for s in specs if s["layout"].get("title", {}).get("text", "").startswith(title_start)]
    assert found, (title_start, [s["layout"].get("title", {}).get("text") for s in specs])
    return found[0]


def panels(spec: dict, field: str = "z") -> np.ndarray:
    """Every heatmap panel's ``field`` stacked: (P, rows, cols)."""
    return np.stack([array(trace[field]) for trace in spec["data"]])


def expected(digit: np.ndarray) -> dict[str, np.ndarray]:
    """What the page should draw for ``digit``, computed here from the weights and written-out indexing."""
    trained, _ = load_vit(MODELS_DIR / "vit-digits")
    untrained = build_vit(trained.config, seed=SEED).eval()
    x = to_model_input(digit)
    out = {}
    with torch.no_grad():
        for name, model in (("trained", trained), ("untrained", untrained)):
            trace = model(x)
            weights = trace.attention_weights()[:, 0]  # (L, H, 17, 17)
            out[f"{name}_cls"] = weights[:, :, 0, 1:].reshape(-1, 4, 4).numpy()  # row 0 = [CLS], keys = patches
            out[f"{name}_rollout"] = attention_rollout(weights)[0, 1:].reshape(4, 4).numpy()
            out[f"{name}_probs"] = trace.logits.softmax(-1)[0].numpy()
        patches = trace.patches[0]  # (16, 4): the same raw patches for both models
    out["baseline"] = pixel_similarity_attention(patches).mean(0).reshape(4, 4).numpy()
    return out


def test_first_test_digit_charts_equal_the_core():
    at = open_page(VIT)
    assert not at.exception, error_messages(at)
    test = digit_splits()["test"]
    i = int(test.of_class(0)[0])
    want = expected(test.images[i])
    np.testing.assert_allclose(array(chart(at, "Trained ViT:")["data"][0]["y"]), want["trained_probs"],
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(panels(chart(at, "[CLS]'s weight on each patch, trained")), want["trained_cls"],
                               rtol=1e-4, atol=1e-6)
    rollout = chart(at, "What reaches [CLS]")
    assert [a["text"] for a in rollout["layout"]["annotations"]][:3] == [
        "trained ViT<br>rollout", f"untrained ViT<br>rollout (seed {SEED})", "identity-projection<br>baseline"]
    shown = panels(rollout, "customdata")  # the weights themselves (z is each panel ÷ its max)
    for p, name in enumerate(("trained_rollout", "untrained_rollout", "baseline")):
        np.testing.assert_allclose(shown[p], want[name], rtol=1e-4, atol=1e-6)
    shown = array(chart(at, "4×4 patches of 2×2")["data"][0]["z"])[..., 0]  # red channel: 255·(1 - v/16), 10× size
    np.testing.assert_allclose(shown[::10, ::10], np.round(255 * (1 - test.images[i] / 16)), atol=0.5)
    assert shown.shape == (80, 80)

    at.radio(key="vision_transformer_model").set_value("untrained ViT").run()
    cls = panels(chart(at, "[CLS]'s weight on each patch, untrained"))
    np.testing.assert_allclose(cls, want["untrained_cls"], rtol=1e-4, atol=1e-6)
    assert abs(cls - 1 / 17).max() < 0.05, "random W_Q, W_K: near-uniform attention"
    assert any("near 1/17" in c.value for c in at.caption)


def test_picking_another_digit_changes_the_figures():
    at = open_page(VIT)
    before = panels(chart(at, "What reaches [CLS]"), "customdata")
    at.selectbox(key="vision_transformer_class").select(7).run()
    at.number_input(key="vision_transformer_index").set_value(3).run()
    assert not at.exception, error_messages(at)
    test = digit_splits()["test"]
    want = expected(test.images[int(test.of_class(7)[2])])
    after = panels(chart(at, "What reaches [CLS]"), "customdata")
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after[0], want["trained_rollout"], rtol=1e-4, atol=1e-6)
    probs = array(chart(at, "Trained ViT:")["data"][0]["y"])
    np.testing.assert_allclose(probs, want["trained_probs"], rtol=1e-4, atol=1e-6)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _upload(name: str, data: bytes, mime: str = "image/png"):
    at = open_page(VIT)
    at.radio(key="vision_transformer_source").set_value("upload your own…").run()
    at.file_uploader[0].set_value((name, data, mime))
    at.run()
    assert not at.exception, error_messages(at)
    return at


def test_an_uploaded_digit_is_converted_and_classified():
    picture = np.full((90, 60, 3), 255, dtype=np.uint8)
    picture[15:75, 27:35] = 0  # a dark vertical bar: a "1"
    at = _upload("one.png", _png(picture))
    assert not at.error
    assert any("became an 8×8 grey digit" in i.value for i in at.info)
    digit, _ = digit_from_image(load_image(_png(picture)))
    want = expected(digit)
    np.testing.assert_allclose(array(chart(at, "Trained ViT:")["data"][0]["y"]), want["trained_probs"],
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,data,message", [
    ("notes.png", b"hello, not an image", "not an image that can be read"),
    ("anim.png", b"GIF89a" + bytes(30), "not an image that can be read"),
    ("wide.png", _png(np.zeros((1, 4097, 3), dtype=np.uint8)), "at most 4096 pixels"),
    ("blank.png", _png(np.full((64, 64, 3), 200, dtype=np.uint8)), "no digit to read"),
])
def test_bad_uploads_get_a_message_and_the_page_keeps_working(name, data, message):
    at = _upload(name, data)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert chart(at, "What reaches [CLS]")  # fell back to the first test digit
