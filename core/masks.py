"""Attention masks as values.

A mask is a boolean tensor, ``True`` where query ``i`` may attend to key ``j``, broadcastable to ``(..., Lq, Lk)``.
``None`` means "no mask" (every query sees every key). Masks combine with logical AND (:func:`combine_masks`).

Positions: when ``Lk > Lq`` (decoding with a KV cache), the ``Lq`` queries are the *last* ``Lq`` positions, so
query ``i`` sits at absolute position ``i + Lk - Lq``. Every mask here follows that convention.
"""

from __future__ import annotations

import torch
from torch import Tensor

MASK_KINDS: tuple[str, ...] = ("none", "causal", "padding", "sliding_window", "prefix_lm", "cross")


def query_key_positions(lq: int, lk: int, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """Absolute positions of queries ``(Lq, 1)`` and keys ``(1, Lk)``; queries are the last ``Lq`` positions."""
    q_pos = torch.arange(lq, device=device)[:, None] + (lk - lq)  # (Lq, 1)
    k_pos = torch.arange(lk, device=device)[None, :]  # (1, Lk)
    return q_pos, k_pos


def causal_mask(lq: int, lk: int | None = None, *, device: torch.device | str | None = None) -> Tensor:
    """Query at position p sees keys at positions j <= p.  -> ``(Lq, Lk)`` bool (lower triangle when Lq == Lk)."""
    q_pos, k_pos = query_key_positions(lq, lq if lk is None else lk, device)
    return k_pos <= q_pos  # (Lq, Lk)


def padding_mask(lengths: Tensor, lk: int) -> Tensor:
    """Key padding: sequence b has ``lengths[b]`` real tokens, the rest are padding.

    ``lengths (B,)`` -> ``(B, 1, 1, Lk)`` bool, which broadcasts against multi-head scores ``(B, H, Lq, Lk)``.
    For single-head scores ``(B, Lq, Lk)`` use ``padding_mask(...)[:, 0]`` -> ``(B, 1, Lk)``.
    """
    lengths = torch.as_tensor(lengths)
    keep = torch.arange(lk, device=lengths.device)[None, :] < lengths[:, None]  # (B, Lk)
    return keep[:, None, None, :]  # (B, 1, 1, Lk)


def sliding_window_mask(
    lq: int, window: int, lk: int | None = None, *, causal: bool = True, device: torch.device | str | None = None
) -> Tensor:
    """Local attention: query at p sees the ``window`` closest keys.

    causal=True:  p - window < j <= p   (the last ``window`` tokens, itself included, as in Mistral)
    causal=False: |p - j| < window      (``window - 1`` neighbours on each side)
    -> ``(Lq, Lk)`` bool.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1 (got {window}); window=1 lets each token see only itself")
    q_pos, k_pos = query_key_positions(lq, lq if lk is None else lk, device)
    distance = q_pos - k_pos  # (Lq, Lk), > 0 for keys in the past
    near = distance.abs() < window
    return near & (distance >= 0) if causal else near


def prefix_lm_mask(length: int, prefix_len: int, *, device: torch.device | str | None = None) -> Tensor:
    """Prefix-LM (T5/UniLM): the first ``prefix_len`` tokens are seen by everyone (bidirectional prefix),
    the rest is causal.  -> ``(L, L)`` bool."""
    prefix = torch.arange(length, device=device)[None, :] < prefix_len  # (1, L)
    return causal_mask(length, device=device) | prefix  # (L, L)


def cross_mask(
    lq: int, lk: int, src_lengths: Tensor | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """Cross-attention (decoder queries over encoder keys, Lq != Lk allowed): every query sees every real key.

    Without ``src_lengths`` -> ``(Lq, Lk)`` all True; with ``src_lengths (B,)`` -> ``(B, 1, Lq, Lk)``
    (padding keys of each source sentence masked out).
    """
    if src_lengths is None:
        return torch.ones(lq, lk, dtype=torch.bool, device=device)
    keys = padding_mask(src_lengths, lk)  # (B, 1, 1, Lk)
    return keys.expand(-1, -1, lq, -1)  # (B, 1, Lq, Lk)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of masks (broadcasting shapes); ``None``s are ignored; all ``None`` -> ``None``."""
    result = None
    for mask in masks:
        if mask is not None:
            result = mask if result is None else result & mask
    return result


def make_mask(
    kind: str,
    lq: int,
    lk: int | None = None,
    *,
    window: int = 3,
    prefix_len: int = 2,
    lengths: Tensor | None = None,
    device: torch.device | str | None = None,
) -> Tensor | None:
    """Build a mask by name (one of :data:`MASK_KINDS`), e.g. from a page's select box.

    "none" -> None; "padding" needs ``lengths (B,)`` and returns ``(B, 1, 1, Lk)``; the others ``(Lq, Lk)``
    (``cross`` with ``lengths`` -> ``(B, 1, Lq, Lk)``).
    """
    lk = lq if lk is None else lk
    if kind == "none":
        return None
    if kind == "causal":
        return causal_mask(lq, lk, device=device)
    if kind == "padding":
        if lengths is None:
            raise ValueError("mask kind 'padding' needs lengths, e.g. lengths=torch.tensor([5, 3])")
        return padding_mask(torch.as_tensor(lengths, device=device), lk)
    if kind == "sliding_window":
        return sliding_window_mask(lq, window, lk, device=device)
    if kind == "prefix_lm":
        if lq != lk:
            raise ValueError(f"prefix_lm is a self-attention mask: needs Lq == Lk (got {lq}, {lk})")
        return prefix_lm_mask(lq, prefix_len, device=device)
    if kind == "cross":
        return cross_mask(lq, lk, lengths, device=device)
    raise ValueError(f"unknown mask kind {kind!r}; choose one of {MASK_KINDS}")
