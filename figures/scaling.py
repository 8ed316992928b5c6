"""Figures for "why divide by √d_k": score spread, softmax saturation and the shrinking gradient, against d_k.

All read a :class:`core.softmax_stats.ScalingSweep`; x is d_k on a log₂ axis; "scaled" and "unscaled" keep
the same colours across figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.softmax_stats import ScalingSweep

SCALED, UNSCALED, THEORY = "#2171b5", "#cb181d", "#636363"


def _log2_x(fig: go.Figure, d_ks: Sequence[int], **where) -> None:
    fig.update_xaxes(type="log", title_text="d_k (log scale)", tickvals=list(d_ks),
                     ticktext=[str(d) for d in d_ks], **where)


def _line(x, y, name, color, *, dash=None, mode="lines+markers", showlegend=True, fmt=".4f") -> go.Scatter:
    return go.Scatter(x=list(x), y=list(y), name=name, mode=mode, showlegend=showlegend, legendgroup=name,
                      line={"color": color, "dash": dash}, hovertemplate=f"{name}<br>d_k %{{x}}<br>%{{y:{fmt}}}<extra></extra>")


def spread_figure(sweep: ScalingSweep) -> go.Figure:
    """Measured std of q·k (unscaled) and of q·k/√d_k (scaled) against d_k, with the theory line √d_k."""
    fig = go.Figure([
        _line(sweep.d_ks, sweep.theory_std, "theory √d_k", THEORY, dash="dash", mode="lines"),
        _line(sweep.d_ks, sweep.dot_std, "measured std(q·k)", UNSCALED),
        _line(sweep.d_ks, sweep.scaled_std, "measured std(q·k / √d_k)", SCALED),
    ])
    _log2_x(fig, sweep.d_ks)
    fig.update_yaxes(type="log", title_text="std of the scores (log scale)")
    fig.update_layout(title={"text": f"Spread of dot products of unit-variance vectors ({sweep.n_samples} seeded "
                                     f"samples × {sweep.n_keys} keys per d_k)"},
                      height=360, margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"x": 0.01, "y": 0.99})
    return fig


def saturation_figure(sweep: ScalingSweep) -> go.Figure:
    """Mean max weight (left) and mean entropy (right) of the softmax against d_k, scaled vs unscaled, with the
    limits: uniform (1/n, log n) and one-hot (1, 0)."""
    n = sweep.n_keys
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("largest weight (1 = all on one key)", "entropy in nats (0 = one-hot)"))
    for col, (stat, limit, label) in enumerate(
        (("max_weight", 1.0 / n, f"uniform 1/{n}"), ("entropy", math.log(n), f"uniform log {n}")), start=1
    ):
        fig.add_trace(_line(sweep.d_ks, getattr(sweep, f"{stat}_unscaled"), "unscaled q·k", UNSCALED,
                            showlegend=col == 1), row=1, col=col)
        fig.add_trace(_line(sweep.d_ks, getattr(sweep, f"{stat}_scaled"), "scaled q·k/√d_k", SCALED,
                            showlegend=col == 1), row=1, col=col)
        fig.add_trace(_line(sweep.d_ks, [limit] * len(sweep.d_ks), label, THEORY, dash="dot", mode="lines"),
                      row=1, col=col)
        _log2_x(fig, sweep.d_ks, row=1, col=col)
    fig.update_layout(title={"text": f"Softmax saturation over {n} keys as d_k grows (mean over samples)"},
                      height=380, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig


def gradient_figure(sweep: ScalingSweep) -> go.Figure:
    """Mean Frobenius norm of the softmax Jacobian diag(p) − ppᵀ against d_k: how much gradient reaches the scores."""
    fig = go.Figure([
        _line(sweep.d_ks, sweep.jacobian_norm_unscaled, "unscaled q·k", UNSCALED),
        _line(sweep.d_ks, sweep.jacobian_norm_scaled, "scaled q·k/√d_k", SCALED),
    ])
    _log2_x(fig, sweep.d_ks)
    fig.update_yaxes(title_text="‖diag(p) − ppᵀ‖_F", rangemode="tozero")
    fig.update_layout(title={"text": "Softmax gradient ‖∂p/∂s‖ as d_k grows (→ 0 when saturated)"}, height=340,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def example_weights_figure(sweep: ScalingSweep, index: int) -> go.Figure:
    """The softmax weights of one sample at ``sweep.d_ks[index]``: unscaled vs scaled, one bar pair per key."""
    keys = [f"k{j}" for j in range(sweep.n_keys)]
    d = sweep.d_ks[index]
    fig = go.Figure([
        go.Bar(x=keys, y=list(sweep.example_unscaled[index]), name="unscaled", marker_color=UNSCALED,
               hovertemplate="unscaled<br>key %{x}<br>weight %{y:.4f}<extra></extra>"),
        go.Bar(x=keys, y=list(sweep.example_scaled[index]), name="scaled ÷√d_k", marker_color=SCALED,
               hovertemplate="scaled<br>key %{x}<br>weight %{y:.4f}<extra></extra>"),
    ])
    fig.update_layout(barmode="group", title={"text": f"One query's softmax weights over {sweep.n_keys} keys at d_k = {d}"},
                      xaxis={"title": {"text": "key"}, "type": "category"},
                      yaxis={"title": {"text": "weight"}, "range": [0, 1.05]}, height=340,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
