"""Figures for "scoring functions": the cost of each scoring function, formula FLOPs beside measured time."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

PALETTE = ("#6baed6", "#2171b5", "#e6550d", "#31a354")


def cost_figure(names: Sequence[str], flops: Sequence[int], milliseconds: Sequence[float], length: int, d: int,
                d_hidden: int, device: str) -> go.Figure:
    """Two bar charts over the scoring functions: FLOPs from the formula (left), measured median time (right)."""
    colors = list(PALETTE[: len(names)])
    axis = {"type": "category", "tickangle": -20}
    return go.Figure(
        data=[
            go.Bar(x=list(names), y=[int(f) for f in flops], marker_color=colors, name="FLOPs",
                   hovertemplate="%{x}<br>%{y:,} FLOPs<extra></extra>"),
            go.Bar(x=list(names), y=[float(m) for m in milliseconds], marker_color=colors, name="time",
                   xaxis="x2", yaxis="y2", hovertemplate="%{x}<br>%{y:.4f} ms<extra></extra>"),
        ],
        layout={
            "title": {"text": f"Cost of one score matrix: L_q = L_k = {length}, d = {d}, h = {d_hidden}"},
            "xaxis": {**axis, "domain": [0, 0.44]}, "xaxis2": {**axis, "domain": [0.56, 1], "anchor": "y2"},
            "yaxis": {"title": {"text": "FLOPs (formula)"}},
            "yaxis2": {"title": {"text": f"measured ms on {device}"}, "anchor": "x2"},
            "showlegend": False, "height": 360, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        },
    )
