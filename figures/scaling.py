"""Figures for "why divide by √d_k": score spread, softmax saturation and the shrinking gradient, against d_k.

All read a :class:`core.lab.softmax_stats.ScalingSweep`; x is d_k on a log₂ axis; "scaled" and "unscaled" keep
the same colours across figures. Each figure is built in one constructor call (they are redrawn on every rerun).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from core.lab.softmax_stats import ScalingSweep

SCALED, UNSCALED, THEORY = "#2171b5", "#cb181d", "#636363"
MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _log2_axis(d_ks: Sequence[int], **extra) -> dict:
    return {"type": "log", "title": {"text": "d_k (log scale)"}, "tickvals": list(d_ks),
            "ticktext": [str(d) for d in d_ks], **extra}


def _line(x, y, name, color, *, dash=None, mode="lines+markers", showlegend=True, axes=("x", "y")) -> go.Scatter:
    return go.Scatter(x=list(x), y=list(y), name=name, mode=mode, showlegend=showlegend, legendgroup=name,
                      line={"color": color, "dash": dash}, xaxis=axes[0], yaxis=axes[1],
                      hovertemplate=f"{name}<br>d_k %{{x}}<br>%{{y:.4f}}<extra></extra>")


def spread_figure(sweep: ScalingSweep) -> go.Figure:
    """Measured std of q·k (unscaled) and of q·k/√d_k (scaled) against d_k, with the theory line √d_k."""
    return go.Figure(
        data=[
            _line(sweep.d_ks, sweep.theory_std, "theory √d_k", THEORY, dash="dash", mode="lines"),
            _line(sweep.d_ks, sweep.dot_std, "measured std(q·k)", UNSCALED),
            _line(sweep.d_ks, sweep.scaled_std, "measured std(q·k / √d_k)", SCALED),
        ],
        layout={
            "title": {"text": f"Spread of dot products of unit-variance vectors ({sweep.n_samples} seeded samples × "
                              f"{sweep.n_keys} keys per d_k)"},
            "xaxis": _log2_axis(sweep.d_ks), "yaxis": {"type": "log", "title": {"text": "std of the scores (log)"}},
            "height": 360, "margin": MARGIN,
        },
    )


def saturation_figure(sweep: ScalingSweep) -> go.Figure:
    """Mean max weight (left) and mean entropy (right) of the softmax against d_k, scaled vs unscaled, with the
    uniform limits 1/n and log n (one-hot: 1 and 0)."""
    n = sweep.n_keys
    data = []
    for i, (stat, limit, label) in enumerate((("max_weight", 1.0 / n, f"uniform 1/{n}"),
                                              ("entropy", math.log(n), f"uniform log {n}"))):
        axes = ("x", "y") if i == 0 else ("x2", "y2")
        data += [
            _line(sweep.d_ks, getattr(sweep, f"{stat}_unscaled"), "unscaled q·k", UNSCALED, showlegend=i == 0,
                  axes=axes),
            _line(sweep.d_ks, getattr(sweep, f"{stat}_scaled"), "scaled q·k/√d_k", SCALED, showlegend=i == 0,
                  axes=axes),
            _line(sweep.d_ks, [limit] * len(sweep.d_ks), label, THEORY, dash="dot", mode="lines", axes=axes),
        ]
    return go.Figure(data=data, layout={
        "title": {"text": f"Softmax saturation over {n} keys as d_k grows (mean over samples)"},
        "xaxis": _log2_axis(sweep.d_ks, domain=[0, 0.44]),
        "xaxis2": _log2_axis(sweep.d_ks, domain=[0.56, 1], anchor="y2"),
        "yaxis": {"title": {"text": "largest weight (1 = all on one key)"}, "range": [0, 1.05]},
        "yaxis2": {"title": {"text": "entropy, nats (0 = one-hot)"}, "anchor": "x2", "rangemode": "tozero"},
        "height": 380, "margin": MARGIN,
    })


def gradient_figure(sweep: ScalingSweep) -> go.Figure:
    """Mean Frobenius norm of the softmax Jacobian diag(p) − ppᵀ against d_k: how much gradient reaches the scores."""
    return go.Figure(
        data=[
            _line(sweep.d_ks, sweep.jacobian_norm_unscaled, "unscaled q·k", UNSCALED),
            _line(sweep.d_ks, sweep.jacobian_norm_scaled, "scaled q·k/√d_k", SCALED),
        ],
        layout={
            "title": {"text": "Softmax gradient ‖∂p/∂s‖ as d_k grows (→ 0 when saturated)"},
            "xaxis": _log2_axis(sweep.d_ks), "yaxis": {"title": {"text": "‖diag(p) − ppᵀ‖_F"}, "rangemode": "tozero"},
            "height": 340, "margin": MARGIN,
        },
    )


def example_weights_figure(sweep: ScalingSweep, index: int) -> go.Figure:
    """The softmax weights of one typical sample at ``sweep.d_ks[index]``: unscaled vs scaled, a bar pair per key."""
    keys = [f"k{j}" for j in range(sweep.n_keys)]
    return go.Figure(
        data=[
            go.Bar(x=keys, y=list(sweep.example_unscaled[index]), name="unscaled", marker_color=UNSCALED,
                   hovertemplate="unscaled<br>key %{x}<br>weight %{y:.4f}<extra></extra>"),
            go.Bar(x=keys, y=list(sweep.example_scaled[index]), name="scaled ÷√d_k", marker_color=SCALED,
                   hovertemplate="scaled<br>key %{x}<br>weight %{y:.4f}<extra></extra>"),
        ],
        layout={
            "barmode": "group",
            "title": {"text": f"One query's softmax weights over {sweep.n_keys} keys at d_k = {sweep.d_ks[index]}"},
            "xaxis": {"title": {"text": "key"}, "type": "category"},
            "yaxis": {"title": {"text": "weight"}, "range": [0, 1.05]}, "height": 340, "margin": MARGIN,
        },
    )
