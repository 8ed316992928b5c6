"""Scaled dot-product attention, written out, with every intermediate kept.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + bias, masked) V

``attention`` returns an :class:`AttentionTrace` (raw scores, scaled scores, masked scores, weights, output) so
pages can draw each step. It is the one attention path of the core: multi-head attention and every model call it.
Scoring functions: "dot" (Q Kᵀ), "scaled_dot" (Q Kᵀ / √d_k), "additive" (Bahdanau, vᵀ tanh(W₁q + W₂k)) and
"multiplicative" (Luong "general", q W kᵀ); the last two are small modules passed as ``scorer``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SCORINGS: tuple[str, ...] = ("dot", "scaled_dot", "additive", "multiplicative")


@dataclass(frozen=True)
class AttentionTrace:
    """Every step of one attention call. Scores/weights ``(..., Lq, Lk)``, output ``(..., Lq, d_v)``.

    raw_scores:    score(q, k)                      (Q Kᵀ for dot products)
    scaled_scores: (raw · scale + bias) / temperature
    masked_scores: scaled_scores with masked positions set to -inf
    weights:       softmax over keys (rows sum to 1; a fully masked row is all 0)
    output:        weights @ V  (a fully masked row gives 0)
    scale:         the factor the raw scores were multiplied by (1/√d_k for "scaled_dot"), so no reader recomputes it

    ``core.multihead.HeadsTrace`` uses the same names, in the same order, for the fields the two share.
    """

    raw_scores: Tensor
    scaled_scores: Tensor
    masked_scores: Tensor
    weights: Tensor
    output: Tensor
    scale: float


class AdditiveScorer(nn.Module):
    """Bahdanau (additive) score: score(q, k) = vᵀ tanh(W₁ q + W₂ k).

    q ``(..., Lq, d_q)``, k ``(..., Lk, d_k)`` -> ``(..., Lq, Lk)``; builds a ``(..., Lq, Lk, d_hidden)`` tensor.
    """

    def __init__(self, d_q: int, d_k: int, d_hidden: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(d_q, d_hidden, bias=False)  # W₁
        self.w_k = nn.Linear(d_k, d_hidden, bias=False)  # W₂
        self.v = nn.Linear(d_hidden, 1, bias=False)  # vᵀ

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        hidden = torch.tanh(self.w_q(q).unsqueeze(-2) + self.w_k(k).unsqueeze(-3))  # (..., Lq, Lk, d_hidden)
        return self.v(hidden).squeeze(-1)  # (..., Lq, Lk)


class MultiplicativeScorer(nn.Module):
    """Luong "general" (multiplicative) score: score(q, k) = q W kᵀ.

    q ``(..., Lq, d_q)``, k ``(..., Lk, d_k)`` -> ``(..., Lq, Lk)``. W starts as the identity when d_q == d_k,
    so the scorer starts out equal to plain dot-product attention.
    """

    def __init__(self, d_q: int, d_k: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.eye(d_q, d_k) if d_q == d_k else torch.randn(d_q, d_k) / math.sqrt(d_q))

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return q @ self.weight @ k.transpose(-2, -1)  # (..., Lq, Lk)


# Score-sized temporaries masked_softmax holds beside its result when given a mask: the -inf-filled scores (kept in
# ``scores`` until it returns) and the softmax before masked weights are re-zeroed. Without a mask: none.
# core.measure.memory predicts attention's peak from this (score_tensors_at_peak); tests/core/test_memory.py measures it.
MASKED_SOFTMAX_TEMPORARIES = 2


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """softmax over ``dim`` where ``mask`` is True; masked entries get weight exactly 0.

    A row with no allowed key would be softmax(-inf, ..., -inf) = NaN; it gets all-zero weights instead, and its
    gradient is zero too (the NaN never appears, so it cannot leak into the backward pass).
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise TypeError(f"masks are boolean (True = may attend); got dtype {mask.dtype}")
    row_has_key = mask.any(dim=dim, keepdim=True)  # (..., Lq, 1)
    scores = scores.masked_fill(~mask, float("-inf")).masked_fill(~row_has_key, 0.0)  # empty rows: finite
    return torch.softmax(scores, dim=dim).masked_fill(~mask, 0.0)


def attention_scores(q: Tensor, k: Tensor, scoring: str = "scaled_dot", scorer: nn.Module | None = None) -> Tensor:
    """Raw, unscaled score of every (query, key) pair: q ``(..., Lq, d)``, k ``(..., Lk, d)`` -> ``(..., Lq, Lk)``."""
    if scoring in ("dot", "scaled_dot"):
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"dot-product scores need q and k of the same width; got {q.shape[-1]} and {k.shape[-1]}")
        return q @ k.transpose(-2, -1)  # (..., Lq, Lk)
    if scoring in ("additive", "multiplicative"):
        if scorer is None:
            kind = "AdditiveScorer" if scoring == "additive" else "MultiplicativeScorer"
            raise ValueError(f"scoring={scoring!r} needs scorer=core.attention.{kind}(...)")
        return scorer(q, k)  # (..., Lq, Lk)
    raise ValueError(f"unknown scoring {scoring!r}; choose one of {SCORINGS}")


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    scoring: str = "scaled_dot",
    temperature: float = 1.0,
    bias: Tensor | None = None,
    scorer: nn.Module | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
) -> AttentionTrace:
    """Attention with its trace.

    q ``(..., Lq, d_k)``, k ``(..., Lk, d_k)``, v ``(..., Lk, d_v)``; ``mask`` bool, True = may attend,
    broadcastable to ``(..., Lq, Lk)``; ``bias`` (ALiBi, relative positions) is added to the scaled scores.

        weights = softmax((score(q, k) · scale + bias) / temperature, masked),   output = weights V

    ``scale`` defaults to 1/√d_k for "scaled_dot" and 1 otherwise. ``dropout_p`` drops weights before they
    multiply V (pass 0 at eval time); the trace keeps the weights before dropout.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (got {temperature}); 1.0 is plain softmax")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1]) if scoring == "scaled_dot" else 1.0
    raw = attention_scores(q, k, scoring, scorer)  # (..., Lq, Lk)
    scaled = raw * scale if bias is None else raw * scale + bias
    scaled = scaled / temperature
    masked = scaled if mask is None else scaled.masked_fill(~mask, float("-inf"))
    weights = masked_softmax(scaled, mask)  # (..., Lq, Lk)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return AttentionTrace(raw_scores=raw, scaled_scores=scaled, masked_scores=masked, weights=weights,
                          output=dropped @ v, scale=float(scale))  # output (..., Lq, d_v)


@functools.cache  # a fact about the code, the same for every call: pages ask for it on every rerun
def score_tensors_at_peak(masked: bool) -> int:
    """How many score-sized ``(..., Lq, Lk)`` tensors :func:`attention` holds at once at its peak (default scoring).

    The distinct score tensors its trace keeps, read off a call on 2 × 2 scores (without a mask ``masked_scores`` is
    ``scaled_scores`` itself), plus :data:`MASKED_SOFTMAX_TEMPORARIES` with a
    mask: 3 without a mask (raw, scaled, weights), 6 with one. ``core.measure.memory`` predicts from it.
    """
    q = torch.zeros(2, 1)  # (Lq = Lk = 2, d = 1)
    mask = torch.ones(2, 2, dtype=torch.bool) if masked else None
    trace = attention(q, q, q, mask)
    kept = {id(t) for t in (trace.raw_scores, trace.scaled_scores, trace.masked_scores, trace.weights)}
    return len(kept) + (MASKED_SOFTMAX_TEMPORARIES if masked else 0)


def naive_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, *, scale: float | None = None
) -> Tensor:
    """The reference formula, softmax(Q Kᵀ · scale, masked) V with scale = 1/√d_k by default.

    q ``(..., Lq, d_k)``, k ``(..., Lk, d_k)``, v ``(..., Lk, d_v)`` -> ``(..., Lq, d_v)``. It materialises the whole
    ``(Lq, Lk)`` score matrix; tiled attention (core/tiled.py) is checked against it.
    """
    return attention(q, k, v, mask, scale=scale).output
