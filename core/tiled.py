"""Tiled attention with the online softmax (the FlashAttention forward pass), in plain PyTorch.

    O = softmax(Q Kᵀ · scale, masked) V,  computed one ``block_q × block_k`` score tile at a time.

For each block of query rows we keep three running quantities over the key tiles seen so far:
``m`` the row maximum of the scores, ``l`` the sum of e^(s - m), and ``acc`` the sum of e^(s - m) · v.
A new tile may raise the maximum, so the old ``l`` and ``acc`` are rescaled by e^(m_old - m_new) before the
tile's own terms are added (:func:`online_softmax_step`). At the end O = acc / l. The full ``(Lq, Lk)`` score matrix
never exists: one tile per head at a time.

Two paths compute the same thing (tests check both against ``core.attention.naive_attention``):
- :func:`tiled_attention_reference` — the teaching loop: one (batch, head), one tile at a time;
  :func:`trace_tiled_attention` records each of its steps as a :class:`TileStep`.
- :func:`tiled_attention` — the fast path: every (batch, head) of a tile at once, in-place ops on one reused
  score buffer; GQA/MQA key/value heads are shared without being copied.

Masks follow ``core.masks``: causal means key j is visible to query i when j <= i + Lk - Lq (the queries are the
last Lq positions); ``key_lengths (B,)`` hides keys j >= length. Tiles with no visible pair are skipped. A query
row with no visible key gets output 0, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

NEG_INF = float("-inf")


@dataclass(frozen=True)
class Tile:
    """One ``block_q × block_k`` tile of the score matrix: query rows [q_start, q_stop), keys [k_start, k_stop)."""

    q_block: int
    q_start: int
    q_stop: int
    k_block: int
    k_start: int
    k_stop: int
    causal_skip: bool  # every key of the tile lies in the future of every query (or Lk = 0): nothing to compute


def tile_schedule(lq: int, lk: int, block_q: int, block_k: int, *, causal: bool = False) -> list[list[Tile]]:
    """The tile loop's order: one list of key tiles per query block (the last blocks may be shorter)."""
    if block_q < 1 or block_k < 1:
        raise ValueError(f"block sizes must be >= 1 (got block_q={block_q}, block_k={block_k})")
    offset = lk - lq  # query i sits at position i + offset
    rows = []
    for qi, q0 in enumerate(range(0, lq, block_q)):
        q1 = min(q0 + block_q, lq)
        last_visible_key = q1 - 1 + offset  # the block's last query sees keys j <= this
        rows.append([
            Tile(qi, q0, q1, kj, k0, min(k0 + block_k, lk), (causal and k0 > last_visible_key) or lk == 0)
            for kj, k0 in enumerate(range(0, max(lk, 1), block_k))  # Lk = 0: one empty tile, skipped
        ])
    return rows


def tile_allowed(
    tile: Tile, lq: int, lk: int, *, causal: bool, key_lengths: Tensor | None, device: torch.device
) -> Tensor | None:
    """Which (query, key) pairs of ``tile`` may attend -> bool ``(B or 1, bq, bk)``, or None when all may.

    Built from positions inside the tile only (never the whole ``(Lq, Lk)`` mask), same rules as ``core.masks``.
    """
    allowed = None
    if causal and tile.k_stop - 1 > tile.q_start + lk - lq:  # some key is in some query's future
        q_pos = torch.arange(tile.q_start, tile.q_stop, device=device)[:, None] + (lk - lq)  # (bq, 1)
        k_pos = torch.arange(tile.k_start, tile.k_stop, device=device)[None, :]  # (1, bk)
        allowed = (k_pos <= q_pos)[None]  # (1, bq, bk)
    if key_lengths is not None and tile.k_stop > int(key_lengths.min()):  # some key is padding somewhere
        k_pos = torch.arange(tile.k_start, tile.k_stop, device=device)
        real_key = (k_pos[None, :] < key_lengths[:, None])[:, None, :]  # (B, 1, bk)
        allowed = real_key if allowed is None else allowed & real_key  # (B, bq, bk)
    return allowed


@dataclass(frozen=True)
class OnlineSoftmaxState:
    """Running state of a block of query rows: ``m, l (..., bq, 1)``, ``acc (..., bq, d_v)``; ``rescale`` is the
    factor e^(m_before - m) the last step applied to the old ``l`` and ``acc``."""

    m: Tensor
    l: Tensor  # noqa: E741 (the paper's name)
    acc: Tensor
    rescale: Tensor


def online_softmax_step(m: Tensor, l: Tensor, acc: Tensor, scores: Tensor, v_tile: Tensor) -> OnlineSoftmaxState:  # noqa: E741
    """Fold one key tile into the running softmax of a block of query rows.

    m, l ``(..., bq, 1)``; acc ``(..., bq, d_v)``; scores ``(..., bq, bk)`` already scaled and masked (-inf = hidden);
    v_tile ``(..., bk, d_v)``.

        m' = max(m, max_j s_j)     l' = e^(m - m') l + Σ_j e^(s_j - m')     acc' = e^(m - m') acc + Σ_j e^(s_j - m') v_j

    A row with no visible key so far keeps m' = -inf, l' = 0, acc' = 0: never NaN.
    """
    m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))  # new running max
    m_ref = m_new.masked_fill(m_new == NEG_INF, 0.0)  # rows with no key yet: e^(-inf - 0) = 0 instead of NaN
    weights = torch.exp(scores - m_ref)  # (..., bq, bk) this tile's unnormalised softmax terms
    rescale = torch.exp(m - m_ref)  # e^(m - m') <= 1: old terms were taken relative to a smaller max
    l_new = rescale * l + weights.sum(dim=-1, keepdim=True)  # rescale of running sum, plus this tile's mass
    acc_new = rescale * acc + weights @ v_tile  # rescale of accumulator, plus this tile's weighted values
    return OnlineSoftmaxState(m_new, l_new, acc_new, rescale)


def normalize_output(acc: Tensor, l: Tensor) -> Tensor:  # noqa: E741
    """O = acc / l, row by row; rows that saw no key (l = 0, acc = 0) give 0."""
    return acc / torch.where(l > 0, l, torch.ones_like(l))


@dataclass(frozen=True)
class TileStep:
    """One step of the tile loop for one (batch, head); per-row tensors are ``(bq,)``.

    scores ``(bq, bk)`` are after scale and mask (-inf = hidden), None when the tile was skipped (no visible pair);
    ``partial_output (bq, d_v)`` = acc / l after the step: the output as if the keys seen so far were all there is.
    """

    q_block: int
    q_range: tuple[int, int]
    k_block: int
    k_range: tuple[int, int]
    skipped: bool
    scores: Tensor | None
    m_before: Tensor
    m_after: Tensor
    l_before: Tensor
    l_after: Tensor
    rescale: Tensor
    partial_output: Tensor


@dataclass(frozen=True)
class TiledAttentionTrace:
    """Every tile step of one (batch, head), in loop order, and the output ``(Lq, d_v)`` they produce."""

    steps: tuple[TileStep, ...]
    output: Tensor
    block_q: int
    block_k: int
    scale: float


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> None:
    """q (B, H, Lq, d), k (B, H_kv, Lk, d), v (B, H_kv, Lk, d_v) with H % H_kv == 0."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"tiled attention takes (B, H, L, d) tensors; got q {tuple(q.shape)}, k {tuple(k.shape)}")
    if k.shape[:3] != v.shape[:3] or q.shape[0] != k.shape[0] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"shapes do not fit: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"query heads ({q.shape[1]}) must be a multiple of key/value heads ({k.shape[1]})")


def _lengths_tensor(key_lengths: Tensor | Sequence[int] | None, batch: int, device: torch.device) -> Tensor | None:
    """``key_lengths`` as a ``(B,)`` long tensor on ``device`` (None stays None)."""
    if key_lengths is None:
        return None
    lengths = torch.as_tensor(key_lengths, device=device).long().reshape(-1)
    if lengths.numel() != batch:
        raise ValueError(f"key_lengths needs one length per batch element ({batch}); got {lengths.numel()}")
    return lengths


def _attend_one_head(
    q: Tensor, k: Tensor, v: Tensor, *, scale: float, causal: bool, key_length: Tensor | None,
    block_q: int, block_k: int, steps: list[TileStep] | None = None,
) -> Tensor:
    """The teaching tile loop for one head: q ``(Lq, d)``, k ``(Lk, d)``, v ``(Lk, d_v)`` -> ``(Lq, d_v)``.

    ``key_length`` is a ``(1,)`` tensor or None; when ``steps`` is a list, each tile step is appended to it.
    """
    lq, lk = q.shape[0], k.shape[0]
    out = q.new_zeros(lq, v.shape[-1])  # (Lq, d_v)
    past_every_key = lk if key_length is None else int(key_length)
    for row in tile_schedule(lq, lk, block_q, block_k, causal=causal):
        q0, q1 = row[0].q_start, row[0].q_stop
        m = q.new_full((q1 - q0, 1), NEG_INF)  # (bq, 1) running max
        l = q.new_zeros(q1 - q0, 1)  # noqa: E741  (bq, 1) running sum of e^(s - m)
        acc = q.new_zeros(q1 - q0, v.shape[-1])  # (bq, d_v) running sum of e^(s - m) v
        for tile in row:
            k0, k1 = tile.k_start, tile.k_stop
            skipped = tile.causal_skip or k0 >= past_every_key
            scores = None
            state = OnlineSoftmaxState(m, l, acc, torch.ones_like(m))
            if not skipped:
                scores = (q[q0:q1] @ k[k0:k1].T) * scale  # (bq, bk)
                allowed = tile_allowed(tile, lq, lk, causal=causal, key_lengths=key_length, device=q.device)
                if allowed is not None:
                    scores = scores.masked_fill(~allowed[0], NEG_INF)
                state = online_softmax_step(m, l, acc, scores, v[k0:k1])
            if steps is not None:
                steps.append(TileStep(
                    tile.q_block, (q0, q1), tile.k_block, (k0, k1), skipped, scores,
                    m[:, 0], state.m[:, 0], l[:, 0], state.l[:, 0], state.rescale[:, 0],
                    normalize_output(state.acc, state.l),
                ))
            m, l, acc = state.m, state.l, state.acc  # noqa: E741
        out[q0:q1] = normalize_output(acc, l)
    return out


def tiled_attention_reference(
    q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_lengths: Tensor | Sequence[int] | None = None,
    scale: float | None = None, block_q: int = 16, block_k: int = 16,
) -> Tensor:
    """Tiled attention, one (batch, head) and one tile at a time: the readable version of :func:`tiled_attention`.

    q ``(B, H, Lq, d)``, k ``(B, H_kv, Lk, d)``, v ``(B, H_kv, Lk, d_v)`` -> ``(B, H, Lq, d_v)``;
    query head h reads key/value head h // (H / H_kv). Slow (a Python loop per tile): for teaching and tests.
    """
    _check_shapes(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    lengths = _lengths_tensor(key_lengths, q.shape[0], q.device)
    group = q.shape[1] // k.shape[1]
    out = q.new_empty(*q.shape[:3], v.shape[-1])  # (B, H, Lq, d_v)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            out[b, h] = _attend_one_head(
                q[b, h], k[b, h // group], v[b, h // group], scale=scale, causal=causal,
                key_length=None if lengths is None else lengths[b:b + 1], block_q=block_q, block_k=block_k,
            )
    return out


def trace_tiled_attention(
    q: Tensor, k: Tensor, v: Tensor, *, batch: int = 0, head: int = 0, causal: bool = False,
    key_lengths: Tensor | Sequence[int] | None = None, scale: float | None = None, block_q: int = 4, block_k: int = 4,
) -> TiledAttentionTrace:
    """Run the teaching tile loop for one (batch, head) and record every step.

    Takes the same ``(B, H, L, d)`` tensors as :func:`tiled_attention_reference` (or one head's ``(L, d)``);
    ``trace.output (Lq, d_v)`` equals that head of the reference output exactly.
    """
    if q.dim() == 2:
        q, k, v = q[None, None], k[None, None], v[None, None]  # (1, 1, L, d)
    _check_shapes(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    lengths = _lengths_tensor(key_lengths, q.shape[0], q.device)
    kv_head = head // (q.shape[1] // k.shape[1])
    steps: list[TileStep] = []
    output = _attend_one_head(
        q[batch, head], k[batch, kv_head], v[batch, kv_head], scale=scale, causal=causal,
        key_length=None if lengths is None else lengths[batch:batch + 1], block_q=block_q, block_k=block_k,
        steps=steps,
    )
    return TiledAttentionTrace(steps=tuple(steps), output=output, block_q=block_q, block_k=block_k, scale=scale)


def tiled_attention(
    q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_lengths: Tensor | Sequence[int] | None = None,
    scale: float | None = None, block_q: int = 256, block_k: int = 512,
) -> Tensor:
    """Tiled attention, fast path: each tile is computed for every (batch, head) at once.

    q ``(B, H, Lq, d)``, k ``(B, H_kv, Lk, d)``, v ``(B, H_kv, Lk, d_v)`` -> ``(B, H, Lq, d_v)``.
    Same loop as :func:`tiled_attention_reference`; the G = H / H_kv query heads sharing a key/value head are
    stacked as rows of one matrix, so K and V are never repeated. Extra memory beyond the output: one score tile
    ``(B·H, block_q, block_k)`` (reused), and ``block_q``-row blocks of Q, acc, m, l. Half-precision inputs are
    computed in float32. The defaults (256 × 512) are the split sizes PyTorch's CPU flash kernel uses.
    """
    _check_shapes(q, k, v)
    batch, heads, lq, d = q.shape
    kv_heads, lk, d_v = k.shape[1], k.shape[2], v.shape[-1]
    group = heads // kv_heads
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    lengths = _lengths_tensor(key_lengths, batch, q.device)
    past_every_key = lk if lengths is None else int(lengths.max())
    dtype = torch.promote_types(q.dtype, torch.float32)  # accumulate half precision in float32
    keys = k.reshape(batch * kv_heads, lk, d)  # (B·H_kv, Lk, d)
    values = v.reshape(batch * kv_heads, lk, d_v)  # (B·H_kv, Lk, d_v)
    queries = q.unflatten(1, (kv_heads, group))  # (B, H_kv, G, Lq, d)
    out = q.new_empty(batch, kv_heads, group, lq, d_v)  # (B, H_kv, G, Lq, d_v)
    score_buffer = torch.empty(batch * heads * min(block_q, lq) * min(block_k, lk), dtype=dtype, device=q.device)
    for row in tile_schedule(lq, lk, block_q, block_k, causal=causal):
        q0, q1 = row[0].q_start, row[0].q_stop
        rows = group * (q1 - q0)  # the G query heads of a key/value head, stacked
        q_block = (queries[:, :, :, q0:q1].to(dtype) * scale).reshape(batch * kv_heads, rows, d)  # (B·H_kv, G·bq, d)
        m = torch.full((batch * kv_heads, rows, 1), NEG_INF, dtype=dtype, device=q.device)  # running max
        l = torch.zeros_like(m)  # noqa: E741  running sum
        acc = torch.zeros(batch * kv_heads, rows, d_v, dtype=dtype, device=q.device)  # (B·H_kv, G·bq, d_v)
        for tile in row:
            k0, k1 = tile.k_start, tile.k_stop
            if tile.causal_skip or k0 >= past_every_key:
                continue
            scores = score_buffer[: batch * kv_heads * rows * (k1 - k0)].view(batch * kv_heads, rows, k1 - k0)
            torch.bmm(q_block, keys[:, k0:k1].to(dtype).transpose(1, 2), out=scores)  # (B·H_kv, G·bq, bk)
            allowed = tile_allowed(tile, lq, lk, causal=causal, key_lengths=lengths, device=q.device)
            if allowed is not None:  # (B or 1, bq, bk) -> (B or 1, 1, 1, bq, bk) against (B, H_kv, G, bq, bk)
                scores.view(batch, kv_heads, group, q1 - q0, k1 - k0).masked_fill_(~allowed[:, None, None], NEG_INF)
            m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))  # new running max
            m_ref = m_new.masked_fill(m_new == NEG_INF, 0.0)  # rows with no key yet: e^(-inf - 0) = 0, not NaN
            scores.sub_(m_ref).exp_()  # (B·H_kv, G·bq, bk) e^(s - m'), in place: the tile's weights
            rescale = (m - m_ref).exp_()  # e^(m - m')
            l.mul_(rescale).add_(scores.sum(dim=-1, keepdim=True))  # rescale of running sum
            acc.mul_(rescale).baddbmm_(scores, values[:, k0:k1].to(dtype))  # rescale of accumulator
            m = m_new
        out[:, :, :, q0:q1] = normalize_output(acc, l).view(batch, kv_heads, group, q1 - q0, d_v)
    return out.view(batch, heads, lq, d_v)  # (B, H, Lq, d_v)
