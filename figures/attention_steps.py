"""Figures for "attention, step by step": safe token labels, one query's score and weight rows, and its output as
the weighted sum of value vectors. Heatmaps of Q, K, V and the score stages go through figures.heatmap.heatmap."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.heatmap import as_numpy, position_labels

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


def _finite_or_none(row: np.ndarray) -> list[float | None]:
    """-inf (masked) scores cannot travel in JSON: they become gaps (None)."""
    return [float(x) if np.isfinite(x) else None for x in row]


def query_row_figure(scores_row, weights_row, key_labels: Sequence[str], query_label: str) -> go.Figure:
    """One query's row before and after softmax: masked, scaled scores (left) and weights (right), one bar per key.

    scores_row, weights_row: ``(Lk,)``. Masked keys have score -inf: no bar, and weight exactly 0.
    """
    scores, weights = as_numpy(scores_row), as_numpy(weights_row)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("scores ÷√d_k ÷ temperature (masked: no bar)",
                                                        "softmax weights (sum to 1)"), horizontal_spacing=0.12)
    fig.add_trace(go.Bar(x=list(key_labels), y=_finite_or_none(scores), name="score", marker_color="#9ecae1",
                         hovertemplate="key %{x}<br>score %{y:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=list(key_labels), y=weights.tolist(), name="weight", marker_color="#08519c",
                         hovertemplate="key %{x}<br>weight %{y:.4f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(type="category", tickangle=-45, title_text="key")
    fig.update_yaxes(title_text="score", row=1, col=1)
    fig.update_yaxes(title_text="weight", range=[0, max(1e-9, float(weights.max())) * 1.1], row=1, col=2)
    fig.update_layout(title={"text": f"Query {query_label}: its score row and its weight row"}, showlegend=False,
                      height=340, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig


def contributions(weights_row, v) -> np.ndarray:
    """weight_j · v_j for every key j: weights_row ``(Lk,)``, v ``(Lk, d_v)`` -> ``(Lk, d_v)``; column sums = output."""
    return as_numpy(weights_row)[:, None] * as_numpy(v)


def weighted_sum_figure(weights_row, v, output_row, key_labels: Sequence[str], query_label: str) -> go.Figure:
    """The query's output as the sum of weight_j · v_j: one stacked bar segment per key in every output dimension,
    and the output vector itself as black diamonds (the segments add up to it)."""
    parts = contributions(weights_row, v)  # (Lk, d_v)
    out = as_numpy(output_row)
    dims = dim_labels(out.shape[0])
    fig = go.Figure()
    for j, label in enumerate(key_labels):
        fig.add_trace(go.Bar(x=dims, y=parts[j].tolist(), name=label,
                             hovertemplate=f"key {label}<br>dim %{{x}}<br>weight·v %{{y:.4f}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=dims, y=out.tolist(), mode="markers", name="output = Σ weight·v",
                             marker={"symbol": "diamond", "size": 10, "color": "black"},
                             hovertemplate="dim %{x}<br>output %{y:.4f}<extra></extra>"))
    fig.update_layout(barmode="relative", title={"text": f"Output of query {query_label} = Σ_j weight_j · v_j"},
                      xaxis={"title": {"text": "value dimension"}, "type": "category"},
                      yaxis={"title": {"text": "contribution"}}, legend={"title": {"text": "key"}},
                      height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
