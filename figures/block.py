"""Figures for one transformer block: the residual stream step by step, norms, FFN activations, depth, parameters.

Every builder takes plain numbers / arrays computed by ``core.lab.residual`` and returns a labelled Plotly figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import as_numpy
from figures.layout import panel_axes, panels_layout, single_layout

SERIES_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a")


def shape_text(shape: Sequence[int]) -> str:
    """(1, 8, 64) -> '(1, 8, 64)'."""
    return "(" + ", ".join(str(s) for s in shape) + ")"


def residual_steps_figure(names: Sequence[str], shape_labels: Sequence[str], rms: Sequence[float],
                          title: str) -> go.Figure:
    """One bar per step of a layer: the per-token RMS of the tensor at that step, its shape (e.g. "(1, 6, 64)")
    written on the bar. Additions are red, norms green, everything else blue."""
    labels = [f"{i}·{name}" for i, name in enumerate(names)]
    shape_labels = list(shape_labels)
    colours = ["#ef553b" if name.startswith("add") else "#00cc96" if "Norm" in name else "#636efa" for name in names]
    trace = go.Bar(x=labels, y=list(rms), text=shape_labels, textposition="outside", customdata=shape_labels,
                   marker_color=colours, hovertemplate="%{x}<br>shape %{customdata}<br>per-token RMS %{y:.4f}"
                                                       "<extra></extra>")
    layout = single_layout(title, "step", "per-token RMS", height=460)
    layout["xaxis"].update(type="category", tickangle=-35)
    return go.Figure(data=[trace], layout=layout)


def norm_stats_figure(stats: Mapping[str, tuple[object, object]], token_labels: Sequence[str]) -> go.Figure:
    """Per-token mean (left panel) and std (right panel) of the input and of each normalisation of it."""
    traces = []
    for i, (name, (mean, std)) in enumerate(stats.items()):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        for panel, values, what in ((0, mean, "mean"), (1, std, "std")):
            x_axis, y_axis = panel_axes(panel)
            traces.append(go.Scatter(
                x=list(token_labels), y=as_numpy(values), mode="lines+markers", name=name, legendgroup=name,
                showlegend=panel == 0, line={"color": colour}, xaxis=x_axis, yaxis=y_axis,
                hovertemplate=f"{name}<br>%{{x}}<br>{what} %{{y:.4f}}<extra></extra>",
            ))
    layout = panels_layout("LayerNorm centres and scales each token; RMSNorm only rescales",
                           ["per-token mean", "per-token std"], ["token", "token"], ["mean", "std"])
    return go.Figure(data=traces, layout=layout)


def activation_figure(xs, curves: Mapping[str, object]) -> go.Figure:
    """The FFN non-linearities on a common x axis."""
    traces = [go.Scatter(x=as_numpy(xs), y=as_numpy(ys), mode="lines", name=name,
                         hovertemplate=f"{name}<br>x %{{x:.2f}}<br>f(x) %{{y:.4f}}<extra></extra>")
              for name, ys in curves.items()]
    layout = single_layout("FFN activations, read from core FeedForward(1, 1) with unit weights", "pre-activation x",
                           "activation f(x)")
    return go.Figure(data=traces, layout=layout)


def count_bars(counts: Mapping[str, int], title: str, *, x_title: str = "parameters") -> go.Figure:
    """Horizontal bars of parameter counts, in the given order (top to bottom), with the share of the total."""
    names = list(counts)
    values = [int(v) for v in counts.values()]
    total = sum(values)
    trace = go.Bar(x=values, y=names, orientation="h", text=[f"{v:,}" for v in values], textposition="auto",
                   customdata=[100 * v / total if total else 0 for v in values],
                   hovertemplate="%{y}<br>%{x:,} parameters (%{customdata:.1f}%)<extra></extra>")
    layout = single_layout(title, x_title, "", height=max(260, 90 + 28 * len(names)))
    layout["yaxis"].update(type="category", autorange="reversed")
    return go.Figure(data=[trace], layout=layout)


def depth_figure(profiles: Mapping[str, tuple[object, object]]) -> go.Figure:
    """Residual-stream RMS after each layer (left) and each layer's gradient norm (right), one line per stack."""
    traces = []
    for i, (name, (rms, grad)) in enumerate(profiles.items()):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        rms, grad = as_numpy(rms), as_numpy(grad)
        traces.append(go.Scatter(x=np.arange(len(rms)), y=rms, mode="lines+markers", name=name, legendgroup=name,
                                 line={"color": colour},
                                 hovertemplate=f"{name}<br>layer %{{x}}<br>RMS %{{y:.4f}}<extra></extra>"))
        traces.append(go.Scatter(x=np.arange(1, len(grad) + 1), y=grad, mode="lines+markers", name=name,
                                 legendgroup=name, showlegend=False, line={"color": colour}, xaxis="x2", yaxis="y2",
                                 hovertemplate=f"{name}<br>layer %{{x}}<br>‖∇‖ %{{y:.4g}}<extra></extra>"))
    layout = panels_layout("Post-LN vs pre-LN through a deep stack at initialisation",
                           ["residual stream RMS after layer ℓ", "gradient norm of layer ℓ's weights"],
                           ["layer ℓ (0 = input)", "layer ℓ"], ["per-token RMS", "‖∇ weights‖"], height=400)
    return go.Figure(data=traces, layout=layout)
