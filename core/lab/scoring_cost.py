"""The four scoring functions side by side: seeded scorer modules, their parameter counts, FLOPs and median time.

    dot             s(q, k) = qᵀk                       0 parameters
    scaled_dot      s(q, k) = qᵀk / √d                  0 parameters
    additive        s(q, k) = vᵀ tanh(W₁q + W₂k)         h·d_q + h·d_k + h      (Bahdanau et al. 2014)
    multiplicative  s(q, k) = qᵀ W k                    d_q·d_k                 (Luong et al. 2015, "general")

FLOPs count a multiply-add as 2 and a tanh or a division as 1, for scoring Lq queries against Lk keys of width d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.attention import SCORINGS, AdditiveScorer, MultiplicativeScorer, attention, attention_scores
from core.lab.toy_inputs import seeded_module
from core.measure.timer import time_call
from core.models import count_parameters as count_module_parameters

SCORING_NAMES = {
    "dot": "Dot product",
    "scaled_dot": "Scaled dot product",
    "additive": "Additive (Bahdanau)",
    "multiplicative": "Multiplicative (Luong general)",
}


def build_scorers(d: int, d_hidden: int, seed: int, *, identity_w: bool = False) -> dict[str, nn.Module | None]:
    """{scoring: scorer module or None}, weights seeded with ``seed``.

    identity_w: start Luong's W as the identity (then "multiplicative" equals "dot"); otherwise W ~ N(0, 1/d).
    """
    additive = seeded_module(lambda: AdditiveScorer(d, d, d_hidden), seed)
    multiplicative = seeded_module(lambda: MultiplicativeScorer(d, d), seed + 1)
    if not identity_w:
        g = torch.Generator().manual_seed(seed + 2)
        with torch.no_grad():
            multiplicative.weight.copy_(torch.randn(d, d, generator=g) / math.sqrt(d))
    return {"dot": None, "scaled_dot": None, "additive": additive, "multiplicative": multiplicative}


def count_parameters(module: nn.Module | None) -> int:
    """Number of trainable numbers in a live scorer module (``core.models.count_parameters``; 0 for the dot products)."""
    return 0 if module is None else count_module_parameters(module)["total"]


def parameter_formula(scoring: str, d: int, d_hidden: int) -> tuple[str, int]:
    """(formula as text, its value) of a scorer's parameter count, for query and key width d."""
    return {
        "dot": ("0", 0),
        "scaled_dot": ("0", 0),
        "additive": ("h·d + h·d + h", d_hidden * d * 2 + d_hidden),
        "multiplicative": ("d·d", d * d),
    }[scoring]


def score_flops(scoring: str, lq: int, lk: int, d: int, d_hidden: int) -> int:
    """FLOPs to compute the ``(Lq, Lk)`` score matrix (multiply-add = 2).

    dot: 2·Lq·Lk·d;  scaled_dot: + Lq·Lk divisions;  multiplicative: 2·Lq·d² (q W) + 2·Lq·Lk·d;
    additive: 2·(Lq + Lk)·d·h (W₁q, W₂k) + Lq·Lk·h (add) + Lq·Lk·h (tanh) + 2·Lq·Lk·h (vᵀ·).
    """
    if scoring == "dot":
        return 2 * lq * lk * d
    if scoring == "scaled_dot":
        return 2 * lq * lk * d + lq * lk
    if scoring == "multiplicative":
        return 2 * lq * d * d + 2 * lq * lk * d
    if scoring == "additive":
        return 2 * (lq + lk) * d * d_hidden + 4 * lq * lk * d_hidden
    raise ValueError(f"unknown scoring {scoring!r}; choose one of {SCORINGS}")


def predicted_score_peak_bytes(scoring: str, lq: int, lk: int, d: int, d_hidden: int, itemsize: int = 4) -> int:
    """Peak bytes of one score matrix as :func:`time_scorings` computes it (beyond q and k).

    dot, scaled_dot: the ``(Lq, Lk)`` scores and their scaled copy; multiplicative: q W ``(Lq, d)`` and the scores;
    additive: W₁q ``(Lq, h)``, W₂k ``(Lk, h)``, the broadcast sum and its tanh (both ``(Lq, Lk, h)``, alive at once)
    and the scores. The additive scorer is the one that grows with Lq·Lk·h.
    """
    if scoring in ("dot", "scaled_dot"):
        return 2 * lq * lk * itemsize
    if scoring == "multiplicative":
        return (lq * d + lq * lk) * itemsize
    if scoring == "additive":
        return ((lq + lk) * d_hidden + 2 * lq * lk * d_hidden + lq * lk) * itemsize
    raise ValueError(f"unknown scoring {scoring!r}; choose one of {SCORINGS}")


def predicted_timing_peak_bytes(length: int, d: int, d_hidden: int) -> int:
    """Peak bytes of :func:`time_scorings` (float32): q and k ``(L, d)`` plus the largest scoring's peak."""
    return 2 * length * d * 4 + max(predicted_score_peak_bytes(name, length, length, d, d_hidden) for name in SCORINGS)


def run_scoring(q: Tensor, k: Tensor, v: Tensor, scoring: str, scorer: nn.Module | None, mask: Tensor | None = None):
    """core attention with one scoring function (no gradient) -> AttentionTrace."""
    with torch.no_grad():
        return attention(q, k, v, mask, scoring=scoring, scorer=scorer)


@dataclass(frozen=True)
class ScoringTiming:
    """Measured median seconds (``core.measure.timer``, up to ``repeats`` runs) of each scoring's score matrix at
    (Lq, Lk, d, d_hidden) on ``device``."""

    length: int
    d: int
    d_hidden: int
    device: str
    seconds: dict[str, float]


def time_scorings(
    length: int, d: int, d_hidden: int, seed: int, device: torch.device, repeats: int = 7,
    time_budget_s: float | None = None,
) -> ScoringTiming:
    """Time ``attention_scores`` for every scoring on random q, k ``(length, d)`` on ``device``.

    ``time_budget_s`` applies to each scoring (``core.measure.timer.time_call``): the additive score at L = 1024, h = 64 takes
    ~0.23 s a call on a 2-core CPU, so a budget keeps the whole timing under a second."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(length, d, generator=g).to(device)  # (L, d)
    k = torch.randn(length, d, generator=g).to(device)  # (L, d)
    scorers = {name: (m.to(device) if m is not None else None) for name, m in build_scorers(d, d_hidden, seed).items()}
    seconds = {}
    with torch.no_grad():
        for name in SCORINGS:
            scale = 1.0 / math.sqrt(d) if name == "scaled_dot" else None

            def score(name=name, scale=scale):
                s = attention_scores(q, k, name, scorers[name])
                return s * scale if scale is not None else s

            seconds[name] = time_call(score, device, repeats=repeats, time_budget_s=time_budget_s).median_s
    return ScoringTiming(length, d, d_hidden, str(device), seconds)
