"""Efficient attention variants beside full attention: what each computes, its pattern, and a fast path.

Full attention is O = softmax(Q Kᵀ / √d, mask) V: n² scores per head. The variants change the function:

- **A different mask** (exact attention with a sparse mask; approximates *full* attention): sliding window
  (Mistral), the Sparse Transformer's strided and fixed patterns (Child et al. 2019), local + global (Longformer,
  Beltagy et al. 2020).
- **An approximation of softmax attention itself**: linear attention with φ(x) = elu(x) + 1 (Katharopoulos et al.
  2020), keys and values projected along the sequence to k rows (Linformer, Wang et al. 2020), softmax only within
  random-rotation hash buckets (Reformer, Kitaev et al. 2020).

:func:`variant_attention` is the readable reference: it returns the output *and* the dense ``(n, n)`` effective
weights W with output = W V (for drawing). :func:`fast_variant_attention` computes the same output without any
``(n, n)`` tensor, in the variant's own cost (gathered keys for sparse patterns, the d × d state of linear
attention, n × k scores for Linformer, per-bucket blocks for LSH). Tests check the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from core import block_sparse as bs
from core.attention import attention, masked_softmax, naive_attention
from core.masks import causal_mask, sliding_window_mask

VARIANTS: tuple[str, ...] = ("full", "sliding_window", "strided", "fixed", "longformer", "linear", "linformer", "lsh")
MASKED = ("sliding_window", "strided", "fixed", "longformer")  # exact attention with a different mask


@dataclass(frozen=True)
class VariantInfo:
    label: str
    paper: str
    cost: str  # per head, n tokens of width d
    kind: str  # "reference", "different mask" or "approximates softmax"
    note: str


INFO: dict[str, VariantInfo] = {
    "full": VariantInfo("Full attention", "Vaswani et al. 2017", "O(n²·d)", "reference", "every pair"),
    "sliding_window": VariantInfo("Sliding window", "Mistral (Jiang et al. 2023)", "O(n·w·d)", "different mask",
                                  "exact attention over the w nearest keys; pairs outside the window are dropped"),
    "strided": VariantInfo("Strided sparse", "Sparse Transformer (Child et al. 2019)", "O(n·(s + n/s)·d)",
                           "different mask", "exact attention over the last s keys and every s-th key"),
    "fixed": VariantInfo("Fixed sparse", "Sparse Transformer (Child et al. 2019)", "O(n·(s + n/s)·d)",
                         "different mask", "exact attention within the block of s and over each block's last key"),
    "longformer": VariantInfo("Local + global", "Longformer (Beltagy et al. 2020)", "O(n·(w + g)·d)",
                              "different mask", "exact attention over a window plus g global tokens (which see all)"),
    "linear": VariantInfo("Linear (elu+1 kernel)", "Katharopoulos et al. 2020", "O(n·d²)", "approximates softmax",
                          "similarity φ(q)·φ(k) with φ = elu + 1 instead of exp(q·k/√d): a different function"),
    "linformer": VariantInfo("Low rank", "Linformer (Wang et al. 2020)", "O(n·k·d)", "approximates softmax",
                             "softmax over k projected keys E·K, values F·V (E, F random here, learned in the paper)"),
    "lsh": VariantInfo("LSH buckets", "Reformer (Kitaev et al. 2020)", "O(n·log n·d)", "approximates softmax",
                       "softmax only over keys hashed to the query's bucket: misses similar keys hashed elsewhere"),
}


@dataclass(frozen=True)
class VariantParams:
    """Knobs of every variant: window w, stride / block s, g global tokens, Linformer's k, LSH buckets and rounds."""

    window: int = 4
    stride: int = 4
    n_global: int = 2
    proj_k: int = 8
    projection: str = "random"  # Linformer's E = F: "random" (seeded) or "pool" (segment means)
    n_buckets: int = 4
    n_rounds: int = 1
    causal: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("window", "stride", "proj_k", "n_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.projection not in ("random", "pool"):
            raise ValueError(f"projection must be 'random' or 'pool' (got {self.projection!r})")
        if self.n_global < 0:
            raise ValueError(f"n_global must be >= 0 (got {self.n_global})")
        if self.n_buckets < 1 or (self.n_buckets > 1 and self.n_buckets % 2):
            raise ValueError(f"n_buckets must be 1 or even (got {self.n_buckets}): buckets are argmax over [xR, -xR]")


@dataclass(frozen=True)
class VariantResult:
    """output ``(..., n, d_v)``; weights ``(..., n, n)`` effective weights (output = weights @ v);
    mask ``(..., n, n)`` bool of the pairs scored (None for linear attention and Linformer); n_scores per head."""

    output: Tensor
    weights: Tensor
    mask: Tensor | None
    n_scores: int


def sweep_params(n: int, causal: bool = False) -> VariantParams:
    """The settings used to time the variants at length n: w = s = k = 64, 16 globals, buckets of ~64 tokens."""
    return VariantParams(window=64, stride=64, n_global=16, proj_k=64, n_buckets=max(2, 2 * (n // 128)),
                         n_rounds=1, causal=causal)


def variant_inputs(n: int, d: int, kind: str, generator: torch.Generator, focus: float = 30.0) -> tuple[Tensor, ...]:
    """q, k, v ``(n, d)``; v is N(0, 1). "random": q, k N(0, 1) too (attention spread out).
    "local": q_i = k_i = r (cos θ_i, sin θ_i, 0, …) + small noise with θ_i = π i / n and r² = focus · √d, so
    score(i, j) ≈ focus · cos(π (i − j) / n): each token attends to a neighbourhood about n / (π √focus) wide."""
    noise = [torch.randn(n, d, generator=generator) for _ in range(3)]
    if kind == "random":
        return tuple(noise)
    if kind != "local":
        raise ValueError(f"unknown input kind {kind!r}; choose 'random' or 'local'")
    theta = torch.arange(n) * math.pi / n  # (n,)
    circle = torch.zeros(n, d)
    circle[:, 0], circle[:, min(1, d - 1)] = torch.cos(theta), torch.sin(theta)  # (n, d) a half circle
    circle *= math.sqrt(focus * math.sqrt(d))
    return circle + 0.1 * noise[0], circle + 0.1 * noise[1], noise[2]


# ------------------------------------------------------------------ masks (readable definitions)


def pattern_mask(name: str, n: int, p: VariantParams) -> Tensor:
    """The ``(n, n)`` pairs a masked variant scores (True = query i sees key j), written from the definitions."""
    i = torch.arange(n)[:, None]  # (n, 1) query position
    j = torch.arange(n)[None, :]  # (1, n) key position
    dist = i - j  # > 0: key in the past
    if name == "sliding_window":
        return sliding_window_mask(n, p.window, causal=p.causal)
    if name == "strided":  # local band of s, plus every s-th key
        mask = (dist.abs() < p.stride) | (dist % p.stride == 0)
    elif name == "fixed":  # own block of s, plus the last key of every block (the "summary" column)
        mask = (i // p.stride == j // p.stride) | (j % p.stride == p.stride - 1)
    elif name == "longformer":  # sliding window, plus g global tokens that see and are seen by all
        mask = sliding_window_mask(n, p.window, causal=False) | (j < p.n_global) | (i < p.n_global)
    else:
        raise ValueError(f"{name!r} is not a masked variant; masked ones: {MASKED}")
    return mask & (dist >= 0) if p.causal else mask


# ------------------------------------------------------------------ masked variants without an (n, n) tensor


def sparse_attention(name: str, q: Tensor, k: Tensor, v: Tensor, p: VariantParams) -> Tensor:
    """A masked variant as block-sparse parts (``core.block_sparse``): O(n · keys per query · d) time and memory."""
    n, scale = q.shape[-2], 1.0 / math.sqrt(q.shape[-1])
    i = torch.arange(n, device=q.device)[:, None]  # (n, 1) query positions
    if name == "sliding_window":
        parts = [bs.sliding_band(q, k, v, window=p.window, causal=p.causal, scale=scale)]
    elif name == "strided":  # band of s + every s-th key
        parts = [bs.sliding_band(q, k, v, window=p.stride, causal=p.causal, scale=scale),
                 bs.strided_columns(q, k, v, stride=p.stride, causal=p.causal, scale=scale)]
    elif name == "fixed":  # own block + the other blocks' last keys
        own = (lambda qp, kp: kp <= qp) if p.causal else (lambda qp, kp: torch.ones_like(qp - kp, dtype=torch.bool))
        summary = torch.arange(n, device=q.device)[p.stride - 1 :: p.stride]  # (n/s,) last key of each block
        block_start = (i // p.stride) * p.stride  # (n, 1)
        seen = summary < block_start if p.causal else (summary < block_start) | (summary >= block_start + p.stride)
        parts = [bs.block_band(q, k, v, block=p.stride, offsets=(0,), allowed=own, scale=scale),
                 bs.key_columns(q, k, v, index=summary, mask=seen, scale=scale)]
    elif name == "longformer":  # window + global keys outside it; global queries below
        glob = torch.arange(min(p.n_global, n), device=q.device)  # (g,)
        outside = (i - glob >= p.window) if p.causal else (i - glob).abs() >= p.window  # (n, g)
        parts = [bs.sliding_band(q, k, v, window=p.window, causal=p.causal, scale=scale),
                 bs.key_columns(q, k, v, index=glob, mask=outside, scale=scale)]
    else:
        raise ValueError(f"{name!r} is not a masked variant; masked ones: {MASKED}")
    out = bs.joint_attention(parts)
    g = min(p.n_global, n)
    if name == "longformer" and g:  # global queries (positions 0..g-1) see every visible key
        seen = torch.arange(n, device=q.device)[None, :] <= torch.arange(g, device=q.device)[:, None]  # (g, n)
        out[..., :g, :] = naive_attention(q[..., :g, :], k, v, seen if p.causal else None)
    return out


# ------------------------------------------------------------------ linear attention, Linformer, LSH


def elu_feature_map(x: Tensor) -> Tensor:
    """φ(x) = elu(x) + 1 > 0 (Katharopoulos et al. 2020)."""
    return F.elu(x) + 1.0


def linear_attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False) -> Tensor:
    """out_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ / φ(q_i)ᵀ Σ_j φ(k_j), the sums over j <= i when causal. O(n·d·d_v).

    q, k ``(..., n, d)``, v ``(..., n, d_v)``. The causal running sums are the state of an RNN.
    """
    work = torch.promote_types(q.dtype, torch.float32)  # the sums over n overflow float16: accumulate in float32
    fq, fk, v32 = elu_feature_map(q.to(work)), elu_feature_map(k.to(work)), v.to(work)  # (..., n, d)
    if not causal:
        state = fk.transpose(-2, -1) @ v32  # (..., d, d_v)  Σ_j φ(k_j) v_jᵀ, computed once
        norm = fk.sum(dim=-2)  # (..., d)  Σ_j φ(k_j)
        return ((fq @ state) / (fq @ norm[..., None])).to(v.dtype)  # (..., n, d_v)
    state = torch.cumsum(fk[..., :, None] * v32[..., None, :], dim=-3)  # (..., n, d, d_v) prefix sums
    norm = fk.cumsum(dim=-2)  # (..., n, d)
    return ((fq[..., None, :] @ state).squeeze(-2) / (fq * norm).sum(dim=-1, keepdim=True)).to(v.dtype)


def linformer_projection(n: int, k: int, seed: int, kind: str = "random") -> Tensor:
    """E = F ``(k, n)``. "random": N(0, 1/k) entries, the Johnson-Lindenstrauss projection of Linformer's analysis
    (learned in the paper). "pool": row c averages segment c of n/k consecutive positions (k = n: the identity)."""
    if kind == "pool":
        segment = torch.arange(n) * k // n  # (n,) segment of each position
        onehot = (segment[None, :] == torch.arange(k)[:, None]).float()  # (k, n)
        return onehot / onehot.sum(dim=1, keepdim=True).clamp_min(1.0)
    return torch.randn(k, n, generator=torch.Generator().manual_seed(seed)) / math.sqrt(k)


def linformer_attention(q: Tensor, k: Tensor, v: Tensor, e: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
    """P = softmax(Q (E K)ᵀ / √d) ``(..., n, k)``, output P (F V) ``(..., n, d_v)``. Returns (output, P)."""
    probs = torch.softmax(q @ (e @ k).transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (..., n, k)
    return probs @ (f @ v), probs


def lsh_rotations(d: int, n_buckets: int, n_rounds: int, seed: int) -> Tensor:
    """Random rotations R ``(rounds, d, n_buckets / 2)``, N(0, 1) entries, one per hashing round."""
    if n_buckets < 1 or (n_buckets > 1 and n_buckets % 2):
        raise ValueError(f"n_buckets must be 1 or even (got {n_buckets}): buckets are argmax over [xR, -xR]")
    return torch.randn(n_rounds, d, n_buckets // 2, generator=torch.Generator().manual_seed(seed))


def lsh_buckets(x: Tensor, rotations: Tensor) -> Tensor:
    """Bucket of each vector, per round: h(x) = argmax [x̂R, -x̂R] (x̂ = x / ‖x‖). x ``(..., n, d)`` -> ``(rounds, ..., n)``."""
    if rotations.shape[-1] == 0:  # one bucket
        return torch.zeros(rotations.shape[0], *x.shape[:-1], dtype=torch.long, device=x.device)
    proj = torch.einsum("...nd,rdb->r...nb", F.normalize(x, dim=-1), rotations.to(x))  # (rounds, ..., n, b/2)
    return torch.cat([proj, -proj], dim=-1).argmax(dim=-1)  # (rounds, ..., n)


def lsh_mask(q: Tensor, k: Tensor, p: VariantParams) -> Tensor:
    """Pairs in the same bucket in at least one round (queries and keys hashed with the same rotations)."""
    rot = lsh_rotations(q.shape[-1], p.n_buckets, p.n_rounds, p.seed)
    bq, bk = lsh_buckets(q, rot), lsh_buckets(k, rot)  # (rounds, ..., n)
    mask = (bq[..., :, None] == bk[..., None, :]).any(dim=0)  # (..., n, n)
    return mask & causal_mask(q.shape[-2], device=q.device) if p.causal else mask


def _bucket_slots(buckets: Tensor, n_buckets: int) -> tuple[Tensor, Tensor, int]:
    """Sort positions by bucket: order ``(B', n)`` (positions, bucket by bucket), slot ``(B', n)`` (where the
    sorted position goes in a ``(n_buckets, M)`` padded layout) and M, the largest bucket's size."""
    order = torch.argsort(buckets, dim=-1, stable=True)  # (B', n)
    sorted_buckets = buckets.gather(-1, order)
    counts = F.one_hot(buckets, n_buckets).sum(dim=-2)  # (B', n_buckets)
    starts = counts.cumsum(dim=-1) - counts  # first sorted slot of each bucket
    rank = torch.arange(buckets.shape[-1], device=buckets.device) - starts.gather(-1, sorted_buckets)  # inside bucket
    size = max(1, int(counts.max()))
    return order, sorted_buckets * size + rank, size


def _to_buckets(x: Tensor, order: Tensor, slot: Tensor, n_buckets: int, size: int, fill: float = 0.0) -> Tensor:
    """``(B', n, d)`` -> ``(B', n_buckets, M, d)``: each bucket's rows, in position order, padded with ``fill``."""
    out = x.new_full((x.shape[0], n_buckets * size, x.shape[-1]), fill)
    rows = x.gather(1, order[..., None].expand(-1, -1, x.shape[-1]))  # (B', n, d) sorted by bucket
    return out.scatter_(1, slot[..., None].expand(-1, -1, x.shape[-1]), rows).unflatten(1, (n_buckets, size))


def lsh_attention(q: Tensor, k: Tensor, v: Tensor, p: VariantParams) -> Tensor:
    """One hashing round, all buckets at once: sort queries and keys by bucket, pad each bucket to the largest,
    attend inside each bucket (a batched matmul), put the rows back in place. A query whose bucket holds no
    visible key gets 0. Cost: a sort (n log n) + Σ_b |Q_b|·|K_b| ≈ n² / buckets scores."""
    if p.n_rounds != 1:
        raise ValueError("the bucketed path hashes once (n_rounds=1); variant_attention handles more rounds")
    n, d, n_buckets = q.shape[-2], q.shape[-1], max(1, p.n_buckets)
    rot = lsh_rotations(d, p.n_buckets, 1, p.seed)
    qs, ks, vs = (x.reshape(-1, n, x.shape[-1]) for x in (q, k, v))  # (B', n, ·)
    q_order, q_slot, q_size = _bucket_slots(lsh_buckets(qs, rot)[0], n_buckets)
    k_order, k_slot, k_size = _bucket_slots(lsh_buckets(ks, rot)[0], n_buckets)
    pos = torch.arange(n, device=q.device, dtype=q.dtype).expand(qs.shape[0], n)[..., None]  # (B', n, 1)
    q_pos = _to_buckets(pos, q_order, q_slot, n_buckets, q_size, fill=-1.0)  # (B', nb, Mq, 1)
    k_pos = _to_buckets(pos, k_order, k_slot, n_buckets, k_size, fill=-1.0).transpose(-1, -2)  # (B', nb, 1, Mk)
    mask = (k_pos >= 0) & ((k_pos <= q_pos) if p.causal else True)  # (B', nb, Mq, Mk)
    scores = _to_buckets(qs, q_order, q_slot, n_buckets, q_size) @ _to_buckets(
        ks, k_order, k_slot, n_buckets, k_size).transpose(-1, -2) / math.sqrt(d)  # (B', nb, Mq, Mk)
    bucket_out = masked_softmax(scores, mask) @ _to_buckets(vs, k_order, k_slot, n_buckets, k_size)  # (B', nb, Mq, d_v)
    rows = bucket_out.flatten(1, 2).gather(1, q_slot[..., None].expand(-1, -1, v.shape[-1]))  # (B', n) sorted order
    out = torch.empty_like(rows).scatter_(1, q_order[..., None].expand(-1, -1, v.shape[-1]), rows)
    return out.view(*q.shape[:-1], v.shape[-1])


# ------------------------------------------------------------------ the two entry points


def variant_attention(name: str, q: Tensor, k: Tensor, v: Tensor, p: VariantParams = VariantParams()) -> VariantResult:
    """Readable reference of variant ``name``: q, k ``(..., n, d)``, v ``(..., n, d_v)`` -> :class:`VariantResult`."""
    n = q.shape[-2]
    if name in ("full", "lsh", *MASKED):
        if name == "full":
            mask = causal_mask(n, device=q.device) if p.causal else None
        else:
            mask = lsh_mask(q, k, p) if name == "lsh" else pattern_mask(name, n, p).to(q.device)
        trace = attention(q, k, v, mask)
        n_scores = n * n if mask is None else int(mask.sum()) // (mask.numel() // (n * n))  # per head
        return VariantResult(trace.output, trace.weights, mask, n_scores)
    if name == "linear":
        sim = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (..., n, n)  φ(q_i)·φ(k_j) > 0
        if p.causal:
            sim = sim.masked_fill(~causal_mask(n, device=q.device), 0.0)
        weights = sim / sim.sum(dim=-1, keepdim=True)  # rows sum to 1
        return VariantResult(weights @ v, weights, None, 0)
    if name == "linformer":
        if p.causal:
            raise ValueError("Linformer mixes all positions (future ones too) into each projected key: no causal form")
        e = linformer_projection(n, p.proj_k, p.seed, p.projection).to(q)
        output, probs = linformer_attention(q, k, v, e, e)
        return VariantResult(output, probs @ e, None, n * p.proj_k)  # (..., n, k) @ (k, n): effective weights
    raise ValueError(f"unknown variant {name!r}; choose one of {VARIANTS}")


def fast_variant_attention(name: str, q: Tensor, k: Tensor, v: Tensor, p: VariantParams = VariantParams()) -> Tensor:
    """Variant ``name`` at its own cost, never forming an (n, n) tensor (full attention excepted)."""
    n = q.shape[-2]
    if name == "full":
        return naive_attention(q, k, v, causal_mask(n, device=q.device) if p.causal else None)
    if name in MASKED:
        return sparse_attention(name, q, k, v, p)
    if name == "linear":
        return linear_attention(q, k, v, causal=p.causal)
    if name == "linformer":
        e = linformer_projection(n, p.proj_k, p.seed, p.projection).to(q)
        return linformer_attention(q, k, v, e, e)[0]
    if name == "lsh":
        return lsh_attention(q, k, v, replace(p, n_rounds=1))
    raise ValueError(f"unknown variant {name!r}; choose one of {VARIANTS}")


def relative_error(approx: Tensor, exact: Tensor) -> float:
    """‖approx − exact‖_F / ‖exact‖_F."""
    return float(torch.linalg.vector_norm(approx - exact) / torch.linalg.vector_norm(exact).clamp_min(1e-30))
