"""Figures for "scoring functions": the cost of each scoring function, formula FLOPs beside measured time."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#6baed6", "#2171b5", "#e6550d", "#31a354")


def cost_figure(names: Sequence[str], flops: Sequence[int], milliseconds: Sequence[float], length: int, d: int,
                d_hidden: int, device: str) -> go.Figure:
    """Two bar charts over the scoring functions: FLOPs from the formula (left), measured median time (right)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("FLOPs (formula)", f"measured median time on {device} (ms)"))
    colors = list(PALETTE[: len(names)])
    fig.add_trace(go.Bar(x=list(names), y=[int(f) for f in flops], marker_color=colors, name="FLOPs",
                         hovertemplate="%{x}<br>%{y:,} FLOPs<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=list(names), y=[float(m) for m in milliseconds], marker_color=colors, name="time",
                         hovertemplate="%{x}<br>%{y:.4f} ms<extra></extra>"), row=1, col=2)
    fig.update_xaxes(type="category", tickangle=-20)
    fig.update_yaxes(title_text="FLOPs", row=1, col=1)
    fig.update_yaxes(title_text="ms", row=1, col=2)
    fig.update_layout(title={"text": f"Cost of one score matrix: L_q = L_k = {length}, d = {d}, h = {d_hidden}"},
                      showlegend=False, height=360, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
