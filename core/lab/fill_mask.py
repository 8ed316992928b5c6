"""Fill in the blank with a masked language model (BERT, Devlin et al. 2019, §3.1): what it guesses at each [MASK]
and where each [MASK] looks, layer by layer (the Fill-in-the-blank page).

A masked LM reads the whole sentence at once (no causal mask) and gives logits z_t ``(V,)`` at every position t.
At a [MASK] position m its guess is

    p(token | sentence) = softmax(z_m)              the top-k tokens by p, most likely first

and the [MASK]'s attention in layer l, head h is row m of that head's weights A[l, h] ``(T, T)``: how much the
masked position reads from every key position (each row sums to 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def mask_positions(ids: Sequence[int], mask_id: int) -> list[int]:
    """Indices t with ``ids[t] == mask_id``, in order."""
    return [t for t, i in enumerate(ids) if i == mask_id]


@dataclass(frozen=True)
class MaskGuess:
    """The model's top-k guesses at one [MASK]: position (index into the ids), ids ``(k,)`` most likely first and
    their probabilities ``(k,)`` (softmax over the whole vocabulary, float64)."""

    position: int
    ids: tuple[int, ...]
    probs: tuple[float, ...]


def top_k_at_masks(logits: Tensor, positions: Sequence[int], k: int) -> list[MaskGuess]:
    """logits ``(T, V)`` of a masked LM, the [MASK] positions -> one :class:`MaskGuess` of ``k`` tokens each."""
    probs = torch.softmax(logits[list(positions)].double(), dim=-1)  # (M, V)
    best = torch.topk(probs, min(k, probs.shape[-1]), dim=-1)  # values, indices (M, k)
    return [MaskGuess(m, tuple(ids), tuple(p)) for m, ids, p in
            zip(positions, best.indices.tolist(), best.values.tolist(), strict=True)]  # fmt: skip


def mask_attention(attention: Tensor, position: int) -> Tensor:
    """attention ``(L, H, T, T)`` -> the query row of ``position`` in every layer and head ``(L, H, T)``: where the
    [MASK] at ``position`` looks (each row sums to 1)."""
    return attention[:, :, position, :]  # (L, H, T)
