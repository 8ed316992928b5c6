"""The masks of the "masks" page as full ``(L, L)`` matrices, and what each does to the same attention weights.

Each mask comes from core.masks; this module only expands them to ``(L, L)`` (a padding mask is ``(1, L)`` before)
and runs core attention once over the stacked masks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from core.attention import AttentionTrace, attention
from core.masks import causal_mask, combine_masks, padding_mask, prefix_lm_mask, sliding_window_mask

GALLERY: dict[str, str] = {
    "none": "no mask (encoder self-attention)",
    "causal": "causal (decoder / GPT)",
    "padding": "key padding (batched sentences)",
    "sliding_window": "sliding window (local)",
    "prefix_lm": "prefix-LM (T5 / UniLM)",
}


def gallery_masks(
    length: int, *, window: int, prefix_len: int, n_pad: int, also_causal: bool = False,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """{kind: ``(L, L)`` bool mask} for every kind in :data:`GALLERY`; True = the query may attend to the key.

    padding: the last ``n_pad`` tokens are padding (keys masked). sliding_window: symmetric, |i − j| < window.
    also_causal: AND every mask with the causal mask (``combine_masks``), as a decoder would.
    """
    n_real = torch.tensor([max(length - n_pad, 0)], device=device)
    masks = {
        "none": torch.ones(length, length, dtype=torch.bool, device=device),
        "causal": causal_mask(length, device=device),
        "padding": padding_mask(n_real, length)[0, 0].expand(length, length),  # (1, L) -> (L, L)
        "sliding_window": sliding_window_mask(length, window, causal=False, device=device),
        "prefix_lm": prefix_lm_mask(length, prefix_len, device=device),
    }
    if also_causal:
        masks = {kind: combine_masks(m, causal_mask(length, device=device)) for kind, m in masks.items()}
    return masks


def gallery_attention(masks: dict[str, Tensor], q: Tensor, k: Tensor, v: Tensor) -> AttentionTrace:
    """Core attention of the same q ``(L, d)``, k, v ``(L, d)`` under every mask at once: masks stacked to
    ``(M, L, L)`` -> a trace whose weights are ``(M, L, L)`` in the order of ``masks``."""
    stacked = torch.stack(list(masks.values()))  # (M, L, L)
    return attention(q, k, v, stacked)
