"""Figures for "attention, step by step": safe token labels, one query's score and weight rows, and its output as
the weighted sum of value vectors. Heatmaps of Q, K, V and the score stages go through figures.heatmap.heatmap."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap, position_labels, unvalidated_figure
from figures.small_multiples import block_separators, symmetric_range

MAX_LABEL_CHARS = 14


def token_labels(tokens: Sequence[str], max_chars: int = MAX_LABEL_CHARS, *, escape: bool = True) -> list[str]:
    """Axis labels for user tokens: 'i·token', long words cut with '…'.

    escape: HTML-escape them (Plotly renders tags in axis and hover labels; '&lt;' displays as '<'). Pass False for
    plain-text widgets (select boxes), which show text as it is.
    """
    cut = [t if len(t) <= max_chars else t[: max_chars - 1] + "…" for t in tokens]
    return position_labels([html.escape(t, quote=False) for t in cut] if escape else cut)


def dim_labels(n: int, prefix: str = "d") -> list[str]:
    """Column labels of a vector's coordinates: ['d0', 'd1', ...]."""
    return [f"{prefix}{i}" for i in range(n)]


def embeddings_figure(x, labels: Sequence[str]) -> go.Figure:
    """The embeddings X ``(T, d_model)``, one row per token, on a diverging scale centred at 0."""
    x = as_numpy(x)
    lo, hi = symmetric_range(x)
    return heatmap(x, dim_labels(x.shape[1], "x"), labels, f"Embeddings X ({x.shape[0]} tokens × d_model = "
                   f"{x.shape[1]})", colorbar_title="value", x_title="embedding dim", y_title="token",
                   colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)


def qkv_figure(q, k, v, labels: Sequence[str]) -> go.Figure:
    """Q | K | V ``(T, d_k)`` each, side by side in one heatmap ``(T, 3·d_k)`` with lines between the blocks."""
    qkv = np.concatenate([as_numpy(q), as_numpy(k), as_numpy(v)], axis=1)  # (T, 3·d_k)
    n, d_k = qkv.shape[0], qkv.shape[1] // 3
    lo, hi = symmetric_range(qkv)
    cols = dim_labels(d_k, "q") + dim_labels(d_k, "k") + dim_labels(d_k, "v")
    return block_separators(heatmap(qkv, cols, labels, f"Q | K | V side by side ({n} tokens × 3 · {d_k} dims)",
                                    colorbar_title="value", x_title="dimension", y_title="token",
                                    colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi), d_k, 3)


STAGES = {  # the stages stage_figure draws: label -> (trace field, unit)
    "1 · raw scores QKᵀ": ("raw_scores", "score"),
    "2 · ÷ √d_k (and ÷ temperature)": ("scaled_scores", "score"),
    "3 · mask (masked = −∞, blank)": ("masked_scores", "score"),
    "5 · output = weights · V": ("output", "value"),
}


def stage_figure(fields: dict, stage: str, labels: Sequence[str]) -> go.Figure:
    """One stage (a key of :data:`STAGES`) of attention's trace ``fields`` on a diverging scale: scores
    ``(Tq, Tk)`` with keys as columns, or the output ``(T, d_v)`` with its dimensions as columns."""
    name, unit = STAGES[stage]
    z = as_numpy(fields[name])
    lo, hi = symmetric_range(z)
    if unit == "value":
        return heatmap(z, dim_labels(z.shape[1], "out"), labels, f"Output = weights · V ({z.shape[0]} × {z.shape[1]})",
                       colorbar_title="value", x_title="dimension", colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)
    return heatmap(z, labels, labels, f"Stage {stage.split(' (')[0]}", colorbar_title=unit,
                   colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)


def _finite_or_none(row: np.ndarray) -> list[float | None]:
    """-inf (masked) scores cannot travel in JSON: they become gaps (None)."""
    return [float(x) if np.isfinite(x) else None for x in row]


def query_row_figure(scores_row, weights_row, key_labels: Sequence[str], query_label: str) -> go.Figure:
    """One query's row before and after softmax: masked, scaled scores (left) and weights (right), one bar per key.

    scores_row, weights_row: ``(Lk,)``. Masked keys have score -inf: no bar, and weight exactly 0.
    Built in one constructor call (no make_subplots / update_*): it is redrawn on every rerun.
    """
    scores, weights = as_numpy(scores_row), as_numpy(weights_row)
    keys = list(key_labels)
    axis = {"type": "category", "tickangle": -45, "title": {"text": "key"}}
    return unvalidated_figure(
        [
            dict(type="bar", x=keys, y=_finite_or_none(scores), name="score", marker={"color": "#9ecae1"},
                   hovertemplate="key %{x}<br>score %{y:.4f}<extra></extra>"),
            dict(type="bar", x=keys, y=weights.tolist(), name="weight", marker={"color": "#08519c"}, xaxis="x2", yaxis="y2",
                   hovertemplate="key %{x}<br>weight %{y:.4f}<extra></extra>"),
        ],
        {
            "title": {"text": f"Query {query_label}: scaled scores (left) → softmax weights (right)"},
            "xaxis": {**axis, "domain": [0, 0.44]},
            "xaxis2": {**axis, "domain": [0.56, 1], "anchor": "y2"},
            "yaxis": {"title": {"text": "scaled score"}},
            "yaxis2": {"title": {"text": "weight"}, "anchor": "x2",
                       "range": [0, max(1e-9, float(weights.max())) * 1.1]},
            "showlegend": False, "height": 340, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        },
    )


def contributions(weights_row, v) -> np.ndarray:
    """weight_j · v_j for every key j: weights_row ``(Lk,)``, v ``(Lk, d_v)`` -> ``(Lk, d_v)``; column sums = output."""
    return as_numpy(weights_row)[:, None] * as_numpy(v)


def weighted_sum_figure(weights_row, v, output_row, key_labels: Sequence[str], query_label: str) -> go.Figure:
    """The query's output as the sum of weight_j · v_j: one stacked bar segment per key in every output dimension,
    and the output vector itself as black diamonds (the segments add up to it)."""
    parts = contributions(weights_row, v)  # (Lk, d_v)
    out = as_numpy(output_row)
    dims = dim_labels(out.shape[0])
    bars = [dict(type="bar", x=dims, y=parts[j].tolist(), name=label,
                   hovertemplate=f"key {label}<br>dim %{{x}}<br>weight·v %{{y:.4f}}<extra></extra>")
            for j, label in enumerate(key_labels)]
    total = dict(type="scatter", x=dims, y=out.tolist(), mode="markers", name="output = Σ weight·v",
                       marker={"symbol": "diamond", "size": 10, "color": "black"},
                       hovertemplate="dim %{x}<br>output %{y:.4f}<extra></extra>")
    return unvalidated_figure([*bars, total], {
        "barmode": "relative", "title": {"text": f"Output of query {query_label} = Σ_j weight_j · v_j"},
        "xaxis": {"title": {"text": "value dimension"}, "type": "category"},
        "yaxis": {"title": {"text": "contribution"}}, "legend": {"title": {"text": "key"}},
        "height": 380, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
    })
