"""Helpers shared by small-multiple and block figures: tick labels on the outer panels only, block separators,
symmetric ranges for diverging colour scales. Cheap property assignments (no update_* calls): figures are redrawn on
every rerun."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import as_numpy


def first_column_labels_only(fig: go.Figure, n_panels: int, cols: int) -> go.Figure:
    """Hide the y tick labels of every panel not in the first column (they would cover the panel to their left)."""
    for p in range(n_panels):
        if p % cols:
            fig.layout[f"yaxis{p + 1}"].showticklabels = False
    return fig


def bottom_row_labels_only(fig: go.Figure, n_panels: int, cols: int) -> go.Figure:
    """Hide the x tick labels of every panel with another panel below it (they would cover that panel's title)."""
    for p in range(n_panels - cols):
        fig.layout["xaxis" if p == 0 else f"xaxis{p + 1}"].showticklabels = False
    return fig


def block_separators(fig: go.Figure, block: int, n_blocks: int) -> go.Figure:
    """Dotted vertical lines between ``n_blocks`` column blocks of width ``block`` on a category x axis."""
    fig.layout.shapes = [
        {"type": "line", "x0": b * block - 0.5, "x1": b * block - 0.5, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
         "line": {"color": "black", "width": 1, "dash": "dot"}} for b in range(1, n_blocks)
    ]
    return fig


def symmetric_range(z) -> tuple[float, float]:
    """(−m, m) with m the largest finite |z| (1 when there is none): centres a diverging colour scale on 0."""
    values = as_numpy(z)
    finite = np.abs(values[np.isfinite(values)])
    m = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return -m, m


def every_label(fig: go.Figure, max_labels: int = 16) -> go.Figure:
    """Show every category label of a single-panel figure's axes when there are at most ``max_labels`` of them
    (Plotly skips labels in narrow columns, and a token map needs all of its tokens)."""
    trace = fig.data[0]
    for axis, labels in ((fig.layout.xaxis, trace.x), (fig.layout.yaxis, trace.y)):
        if labels is not None and len(labels) <= max_labels:
            axis.dtick = 1
    return fig
