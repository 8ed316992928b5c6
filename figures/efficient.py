"""Figures for the efficient attention variants: each one's pattern, its error against full attention, its cost.

Patterns are :class:`core.efficient.VariantResult` weights drawn with :func:`figures.heatmap.heatmap`; pairs a
variant never scores are gaps, so the mask is visible as the shape of the coloured area.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.efficient import INFO
from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap
from figures.layout import single_layout
from figures.memory import LEGEND_BELOW, MIB, log_log_layout, time_figure

KIND_COLORS = {"reference": "#636363", "different mask": "#2171b5", "approximates softmax": "#cb181d"}
VARIANT_COLORS = {"full": "#000000", "sliding_window": "#2171b5", "strided": "#6baed6", "fixed": "#08519c",
                  "longformer": "#4292c6", "linear": "#cb181d", "linformer": "#fb6a4a", "lsh": "#a50f15"}


def pattern_figure(weights, mask, labels: Sequence[str], title: str, *, height: int | None = None) -> go.Figure:
    """Effective weights ``(n, n)`` of one variant; entries outside ``mask`` (if given) are gaps. Weights that can be
    negative (Linformer's P·F) get a diverging scale centred on 0."""
    w = as_numpy(weights)
    if mask is not None:
        w = np.where(as_numpy(mask) > 0, w, np.nan)
    if np.nanmin(w, initial=0.0) < 0:
        bound = float(np.nanmax(np.abs(w))) or 1.0
        return heatmap(w, labels, labels, title, colorbar_title="effective weight", colorscale=DIVERGING_SCALE,
                       zmin=-bound, zmax=bound, height=height)
    return heatmap(w, labels, labels, title, colorbar_title="weight", zmin=0.0, height=height)


def error_figure(errors: Mapping[str, float | None], *, title: str) -> go.Figure:
    """Relative Frobenius error of each variant's output against full attention (horizontal bars), coloured by what
    the variant changes: the mask, or the softmax itself. Variants with no result (None) are left out."""
    names = [v for v, e in errors.items() if e is not None][::-1]  # first variant on top
    bars = [go.Bar(
        y=[INFO[v].label for v in names if INFO[v].kind == kind], x=[errors[v] for v in names if INFO[v].kind == kind],
        name=kind, orientation="h", marker_color=KIND_COLORS[kind], hovertemplate="%{y}<br>error %{x:.3e}<extra></extra>",
    ) for kind in ("different mask", "approximates softmax")]
    layout = single_layout(title, "relative error ‖O_variant − O_full‖_F / ‖O_full‖_F", "", height=380,
                           legend=LEGEND_BELOW)
    layout["yaxis"].update(automargin=True, categoryorder="array", categoryarray=[INFO[v].label for v in names])
    return go.Figure(bars, layout)


def cost_figure(measured: Mapping[str, Mapping[int, float]], *, title: str) -> go.Figure:
    """Measured time per call against n (log-log) for each variant's fast path, with an n² guide."""
    names = {v: INFO[v].label for v in measured}
    return time_figure(measured, title=title, names=names, colors=VARIANT_COLORS)


def peak_figure(measured: Mapping[str, Mapping[int, int]], *, title: str) -> go.Figure:
    """Measured peak bytes (MiB) of one call against n (log-log), one line per variant: n² for full attention,
    about linear for the rest."""
    ns = sorted({n for by_n in measured.values() for n in by_n})
    lines = [go.Scatter(x=list(by_n), y=[b / MIB for b in by_n.values()], mode="markers+lines", name=INFO[v].label,
                        marker={"color": VARIANT_COLORS[v], "size": 8}, line={"color": VARIANT_COLORS[v]},
                        hovertemplate="n %{x}<br>%{y:,.2f} MiB<extra>" + INFO[v].label + "</extra>")
             for v, by_n in measured.items()]
    return go.Figure(lines, log_log_layout(title, ns or [1], "peak memory of one call (MiB, log scale)", height=440))
