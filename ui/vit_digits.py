"""The digits ViT on the Vision Transformer page: the shipped model (shared, read-only), the digit pickers, and one
cached run of the three models the page compares on a digit.

    trained ViT      models/vit-digits (core.train.vit_training.load_vit)
    untrained ViT    the same architecture, weights drawn from the sidebar seed: random W_Q, W_K
    identity-projection baseline   W_Q = W_K = I on the raw patches (core.vit.pixel_similarity_attention)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch

from core.lab.image_input import MAX_BYTES, UPLOAD_TYPES, ImageInputError, load_image
from core.train.checkpoints import MODELS_DIR
from core.train.digits import DigitSplit, digit_from_image, digit_splits, to_model_input
from core.train.vit_training import build_vit, load_vit
from core.vit import TinyViT, cls_attention, cls_rollout, pixel_similarity_attention
from ui.gc_tuning import freeze_late_imports

VIT_NAME = "vit-digits"


@st.cache_resource(show_spinner=False)
def load_digits_vit(device: str = "cpu") -> tuple[TinyViT, dict[str, Any]]:
    """(model, card) of the shipped digits ViT on ``device``; shared by every session, eval mode, gradients off."""
    model, card = load_vit(MODELS_DIR / VIT_NAME, device=device)
    model.requires_grad_(False)
    return model, card


@dataclass(frozen=True)
class DigitRun:
    """What the page draws for one digit (N patches, L layers, H heads), as numpy:

    probs, untrained_probs ``(10,)``; cls, untrained_cls ``(L, H, N)`` ([CLS]'s weight on each patch);
    rollout, untrained_rollout ``(N,)`` (:func:`core.vit.cls_rollout`); baseline ``(N,)``: the weight each patch
    receives in the identity-projection map, averaged over the query patches (the map has no [CLS] row).
    """

    probs: np.ndarray
    untrained_probs: np.ndarray
    cls: np.ndarray
    untrained_cls: np.ndarray
    rollout: np.ndarray
    untrained_rollout: np.ndarray
    baseline: np.ndarray


@st.cache_data(max_entries=64, show_spinner=False)
def digit_run(digit: np.ndarray, seed: int, device: str) -> DigitRun:
    """Run the trained and the untrained (``seed``) ViT and the identity-projection baseline on ``digit`` (8, 8)."""
    trained, card = load_digits_vit(device)
    untrained = build_vit(trained.config, seed=seed).to(device).eval()
    x = to_model_input(digit).to(device)  # (1, 1, 8, 8)
    with torch.no_grad():
        ours, theirs = trained(x), untrained(x)
        baseline = pixel_similarity_attention(ours.patches[0]).mean(dim=0)  # (N,): mean over query patches

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.cpu().numpy()

    return DigitRun(arr(ours.logits.softmax(-1)[0]), arr(theirs.logits.softmax(-1)[0]), arr(cls_attention(ours)[:, 0]),
                    arr(cls_attention(theirs)[:, 0]), arr(cls_rollout(ours)[0]), arr(cls_rollout(theirs)[0]),
                    arr(baseline))


@st.cache_resource(show_spinner="Loading scikit-learn's digits data set…")
def test_digits() -> DigitSplit:
    """The held-out test digits, read once per process (shared, read-only). Their first read imports scikit-learn,
    whose objects then join those the post-run garbage collection skips (:func:`ui.gc_tuning.freeze_late_imports`)."""
    test = digit_splits()["test"]
    freeze_late_imports()
    return test


def pick_test_digit(slug: str) -> tuple[np.ndarray, int, str]:
    """Widgets: a class and the k-th held-out test digit of that class. -> (digit (8, 8), label, caption)."""
    test = test_digits()
    c1, c2 = st.columns(2)
    label = c1.selectbox("Class", range(10), key=f"{slug}_class")
    of_class = test.of_class(label)
    k = c2.number_input(f"Which test '{label}' (1–{len(of_class)})", 1, len(of_class), 1, key=f"{slug}_index")
    i = int(of_class[int(k) - 1])
    return test.images[i], label, f"Held-out test digit {i} of {len(test)} (row {test.rows[i]} of load_digits())."


def upload_digit(slug: str) -> tuple[np.ndarray | None, str, bool]:
    """Widget: upload a picture of one digit. -> (digit (8, 8) or None, a message for the learner, refused?).
    Every refusal (type, size, content) is a message, never a traceback."""
    upload = st.file_uploader(f"A PNG or JPEG of one digit, at most {MAX_BYTES // 2**20} MB",
                              type=list(UPLOAD_TYPES), max_upload_size=MAX_BYTES // 2**20, key=f"{slug}_upload")
    if upload is None:
        return None, "No picture uploaded yet: showing the first held-out test digit.", False
    try:
        digit, message = digit_from_image(load_image(upload.getvalue()))
    except ImageInputError as err:
        return None, f"{err} Showing the first held-out test digit instead.", True
    return digit, message, False
