"""The masks of the "masks" page as full matrices, and what each does to the same attention weights.

Each mask comes from core.masks; this module only expands them: the self-attention masks to ``(L, L)`` (a padding
mask is ``(1, L)`` before), stacked so that core attention runs once over all of them, and the cross-attention mask
to ``(L_target, L_source)``, which cannot join that stack (L_target ≠ L_source).
"""

from __future__ import annotations

import torch
from torch import Tensor

from core.attention import AttentionTrace, attention
from core.lab.toy_inputs import Projections
from core.masks import causal_mask, combine_masks, cross_mask, padding_mask, prefix_lm_mask, sliding_window_mask

GALLERY: dict[str, str] = {
    "none": "no mask (encoder self-attention)",
    "causal": "causal (decoder / GPT)",
    "padding": "key padding (batched sentences)",
    "sliding_window": "sliding window (local)",
    "prefix_lm": "prefix-LM (T5 / UniLM)",
    "cross": "cross-attention (target queries, padded source keys)",
}
SELF_ATTENTION_KINDS: tuple[str, ...] = tuple(kind for kind in GALLERY if kind != "cross")  # the (L, L) masks


def real_lengths(length: int, n_pad: int, device: torch.device | str | None = None) -> Tensor:
    """``(1,)`` the number of real tokens of one sequence of ``length`` whose last ``n_pad`` tokens are padding."""
    return torch.tensor([max(length - n_pad, 0)], device=device)


def gallery_masks(
    length: int, *, window: int, prefix_len: int, n_pad: int, also_causal: bool = False,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """{kind: ``(L, L)`` bool mask} for every kind in :data:`SELF_ATTENTION_KINDS`; True = the query may attend to
    the key.

    padding: the last ``n_pad`` tokens are padding (keys masked). sliding_window: symmetric, |i − j| < window.
    also_causal: AND every mask with the causal mask (``combine_masks``), as a decoder would.
    """
    n_real = real_lengths(length, n_pad, device)
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


def gallery_cross_mask(
    target_len: int, source_len: int, n_pad: int, *, device: torch.device | str | None = None
) -> Tensor:
    """Cross-attention mask ``(L_target, L_source)``: every target query may attend to every real source key; the last
    ``n_pad`` source positions are padding, masked for every query (core.masks.cross_mask, ``(1, 1, L_t, L_s)``).

    No causal mask: the whole source is known before decoding starts.
    """
    return cross_mask(target_len, source_len, real_lengths(source_len, n_pad, device), device=device)[0, 0]


def cross_projections(proj: Projections, x_target: Tensor, x_source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Cross-attention's inputs: queries from the decoder, q = x_target W_Q ``(L_t, d_k)``; keys and values from the
    encoder, k = x_source W_K ``(L_s, d_k)``, v = x_source W_V ``(L_s, d_v)``."""
    return x_target @ proj.w_q, x_source @ proj.w_k, x_source @ proj.w_v
