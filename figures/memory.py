"""Figures for "why attention is O(n²)": peak memory and time against n (log-log), and what fills the peak.

Measured points are markers, analytic predictions (``core.measure.memory``) are dashed lines; each method keeps its colour.
Layouts go to the constructor (``figures.layout``), which keeps a rerun cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from core.measure.memory import MIB
from figures.layout import single_layout

LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}  # clear of the data
COLORS = {"naive": "#cb181d", "tiled": "#2171b5", "sdpa": "#238b45"}
NAMES = {"naive": "naive (ours)", "tiled": "tiled (ours)", "sdpa": "torch SDPA (reference)"}


def log_log_layout(title: str, ns: Sequence[int], y_title: str, *, height: int = 460) -> dict:
    """A log-log layout with n on x (ticks at the measured lengths) and ``y_title`` on y."""
    layout = single_layout(title, "sequence length n (log scale)", y_title, height=height,
                           legend=LEGEND_BELOW)
    pad = 0.06 * max(1.0, math.log10(max(ns) / min(ns)))  # room for the first and last tick labels
    layout["xaxis"].update(type="log", tickvals=list(ns), ticktext=[f"{n:,}" for n in ns],
                           range=[math.log10(min(ns)) - pad, math.log10(max(ns)) + pad])
    layout["yaxis"]["type"] = "log"
    return layout


def peak_memory_figure(
    ns: Sequence[int],
    predicted: Mapping[str, Sequence[int]],
    measured: Mapping[str, Mapping[int, int]],
    *,
    budget_bytes: int | None,
    title: str,
) -> go.Figure:
    """Predicted peak (dashed lines) and measured peak (markers) in MiB against n; the budget as a dotted line.

    predicted: {method: bytes at each n of ``ns``}; measured: {method: {n: bytes}}.
    """
    traces = [
        go.Scatter(x=list(ns), y=[b / MIB for b in values], mode="lines", name=f"{NAMES[method]}: predicted",
                   line={"color": COLORS[method], "dash": "dash"},
                   hovertemplate="n %{x}<br>predicted %{y:,.3f} MiB<extra>" + NAMES[method] + "</extra>")
        for method, values in predicted.items()
    ] + [
        go.Scatter(x=list(by_n), y=[b / MIB for b in by_n.values()], mode="markers+lines",
                   name=f"{NAMES[method]}: measured", marker={"color": COLORS[method], "size": 9},
                   line={"color": COLORS[method], "width": 1},
                   hovertemplate="n %{x}<br>measured %{y:,.3f} MiB<extra>" + NAMES[method] + "</extra>")
        for method, by_n in measured.items()
    ]
    if budget_bytes:
        traces.append(go.Scatter(x=[ns[0], ns[-1]], y=[budget_bytes / MIB] * 2, mode="lines", name="memory budget",
                                 line={"color": "#636363", "dash": "dot"},
                                 hovertemplate="budget %{y:,.0f} MiB<extra></extra>"))
    return go.Figure(traces, log_log_layout(title, ns, "peak memory of one call (MiB, log scale)"))


def time_figure(measured: Mapping[str, Mapping[int, float]], *, title: str, names: Mapping[str, str] = NAMES,
                colors: Mapping[str, str] = COLORS) -> go.Figure:
    """Measured milliseconds per call against n (one line per method), with an n² guide through the first point
    of the first method."""
    all_ns = sorted({n for by_n in measured.values() for n in by_n})
    traces = [
        go.Scatter(x=list(by_n), y=[s * 1e3 for s in by_n.values()], mode="markers+lines", name=names[method],
                   marker={"color": colors.get(method), "size": 8}, line={"color": colors.get(method)},
                   hovertemplate="n %{x}<br>%{y:,.2f} ms<extra>" + names[method] + "</extra>")
        for method, by_n in measured.items()
    ]
    anchor = next(iter(measured.values()), {})
    if anchor:
        n0, t0 = next(iter(anchor.items()))
        traces.append(go.Scatter(x=all_ns, y=[t0 * 1e3 * (n / n0) ** 2 for n in all_ns], mode="lines",
                                 name="∝ n² (guide)", line={"color": "#636363", "dash": "dot"},
                                 hovertemplate="n %{x}<br>n² guide %{y:,.2f} ms<extra></extra>"))
    return go.Figure(traces, log_log_layout(title, all_ns or [1], "time per call (ms, log scale)", height=440))


def memory_terms_figure(terms: Mapping[str, Mapping[str, int]], *, title: str) -> go.Figure:
    """Stacked horizontal bars: what makes up each method's predicted peak (MiB), one bar per method."""
    bars = [
        go.Bar(y=[NAMES[method]], x=[nbytes / MIB], name=part, orientation="h", legendgroup=method,
               legendgrouptitle_text=NAMES[method], marker={"line": {"width": 0.5, "color": "white"}},
               hovertemplate=f"{part}<br>%{{x:,.3f}} MiB<extra></extra>")
        for method, parts in terms.items() for part, nbytes in parts.items()
    ]
    layout = single_layout(title, "predicted bytes (MiB)", "", height=440, barmode="stack",
                           legend={**LEGEND_BELOW, "y": -0.3})
    layout["yaxis"]["automargin"] = True
    return go.Figure(bars, layout)
