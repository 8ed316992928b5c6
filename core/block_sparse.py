"""Sparse attention without an (n, n) tensor: the fast path of the masked variants in ``core/efficient.py``.

The keys a query sees are the union of a few *parts*; each part is one dense batched matmul:

- :func:`block_band`: query block b (``block`` rows) against key blocks b + o, o in ``offsets`` (a sliding window,
  or a block-diagonal with offsets (0,)) -> ``(..., n/B, B, len(offsets)·B)`` scores.
- :func:`key_columns`: every query against one shared list of keys (global tokens, block summaries) -> ``(..., n, m)``.
- :func:`strided_columns`: query i against keys i ± s, i ± 2s, … (same residue mod s): the sequence is folded into
  an ``(n/s, s)`` grid and each column attends down itself -> ``(..., s, n/s, n/s)``.

Each part reports its scores row by row ``(..., n, m_p)`` with a boolean mask ``(n, m_p)`` and a function that turns
its weights back into ``(..., n, d_v)``. :func:`joint_attention` runs one softmax over the parts side by side, so
the result is softmax attention with the union of the parts' masks (parts must not list a key twice).
Time and memory O(n · Σ m_p · d) instead of O(n² · d).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.attention import masked_softmax


@dataclass(frozen=True)
class Part:
    """scores ``(..., n, m)`` (already scaled), mask ``(n, m)`` bool, apply: weights ``(..., n, m)`` -> ``(..., n, d_v)``."""

    scores: Tensor
    mask: Tensor
    apply: Callable[[Tensor], Tensor]


def _pad_rows(x: Tensor, rows: int) -> Tensor:
    """Zero rows appended along the sequence axis: ``(..., n, d)`` -> ``(..., rows, d)``."""
    return F.pad(x, (0, 0, 0, rows - x.shape[-2]))


def block_band(
    q: Tensor, k: Tensor, v: Tensor, *, block: int, offsets: Sequence[int],
    allowed: Callable[[Tensor, Tensor], Tensor], scale: float,
) -> Part:
    """Query block b against key blocks b + o; ``allowed(q_pos, k_pos)`` (broadcasting position tensors) -> bool."""
    n = q.shape[-2]
    nb = -(-n // block)
    blocks = lambda x: _pad_rows(x, nb * block).unflatten(-2, (nb, block))  # noqa: E731  (..., nb, B, d)
    # key blocks b + o side by side; roll wraps around, the positions below mask what wrapped
    near = lambda x: torch.cat([torch.roll(blocks(x), -o, dims=-3) for o in offsets], dim=-2)  # noqa: E731
    keys, values = near(k), near(v)  # (..., nb, len(offsets)·B, d)
    scores = (blocks(q) @ keys.transpose(-1, -2)) * scale  # (..., nb, B, m)
    pos = {"device": q.device, "dtype": torch.int32}  # positions: 4 bytes each is plenty
    q_pos = torch.arange(nb * block, **pos).view(nb, block, 1)  # (nb, B, 1)
    k_block = torch.arange(nb, **pos)[:, None] + torch.tensor(list(offsets), **pos)  # (nb, O)
    k_pos = (k_block[:, :, None] * block + torch.arange(block, **pos)).flatten(1)[:, None, :]  # (nb, 1, m)
    mask = (k_pos >= 0) & (k_pos < n) & allowed(q_pos, k_pos)  # (nb, B, m)

    def apply(weights: Tensor) -> Tensor:
        w = _pad_rows(weights, nb * block).unflatten(-2, (nb, block))  # (..., nb, B, m)
        return (w @ values).flatten(-3, -2)[..., :n, :]  # (..., n, d_v)

    return Part(scores.flatten(-3, -2)[..., :n, :], mask.flatten(0, 1)[:n], apply)


def key_columns(q: Tensor, k: Tensor, v: Tensor, *, index: Tensor, mask: Tensor, scale: float) -> Part:
    """Every query against the keys at positions ``index (m,)``; ``mask (n, m)`` says which of them each row sees."""
    keys, values = k[..., index, :], v[..., index, :]  # (..., m, d)
    return Part((q @ keys.transpose(-1, -2)) * scale, mask, lambda weights: weights @ values)


def strided_columns(q: Tensor, k: Tensor, v: Tensor, *, stride: int, causal: bool, scale: float) -> Part:
    """Query i against keys i - s, i - 2s, … (and i + s, … when not causal); i itself is left to the band part."""
    n, s = q.shape[-2], stride
    nb = -(-n // s)
    grid = lambda x: _pad_rows(x, nb * s).unflatten(-2, (nb, s)).transpose(-3, -2)  # noqa: E731  (..., s, nb, d)
    values = grid(v)  # (..., s, nb, d_v): column c holds positions c, c + s, c + 2s, ...
    scores = (grid(q) @ grid(k).transpose(-1, -2)) * scale  # (..., s, nb, nb): [column, row r, key row r']
    i = torch.arange(n, device=q.device)[:, None]  # (n, 1), i = r·s + c
    key_row = torch.arange(nb, device=q.device)[None, :]  # (1, nb)
    mask = (key_row * s + i % s < n) & ((key_row < i // s) if causal else (key_row != i // s))  # (n, nb)

    def apply(weights: Tensor) -> Tensor:
        w = _pad_rows(weights, nb * s).unflatten(-2, (nb, s)).transpose(-3, -2)  # (..., s, nb, nb)
        return (w @ values).transpose(-3, -2).flatten(-3, -2)[..., :n, :]  # (..., n, d_v)

    return Part(scores.transpose(-3, -2).flatten(-3, -2)[..., :n, :], mask, apply)


def joint_attention(parts: Sequence[Part]) -> Tensor:
    """One softmax over the parts' scores side by side -> ``(..., n, d_v)``; a row with no key gets 0."""
    weights = masked_softmax(torch.cat([p.scores for p in parts], dim=-1), torch.cat([p.mask for p in parts], dim=-1))
    chunks = weights.split([p.mask.shape[-1] for p in parts], dim=-1)
    return sum(p.apply(w) for p, w in zip(parts, chunks, strict=True))


def sliding_band(q: Tensor, k: Tensor, v: Tensor, *, window: int, causal: bool, scale: float) -> Part:
    """The sliding window as a block band: blocks of ``window`` rows see their own and neighbouring key blocks."""
    if causal:
        return block_band(q, k, v, block=window, offsets=(-1, 0), scale=scale,
                          allowed=lambda qp, kp: (qp - kp >= 0) & (qp - kp < window))
    return block_band(q, k, v, block=window, offsets=(-1, 0, 1), scale=scale,
                      allowed=lambda qp, kp: (qp - kp).abs() < window)
