"""Figures for FlashAttention step by step: the tile grid, the current tile, the running statistics, the IO bars.

All read a :class:`core.tiled.TiledAttentionTrace` (one (batch, head), every tile step in loop order) or a
:class:`core.measure.memory.MemoryTraffic`. Score maps go through :func:`figures.heatmap.heatmap`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.measure.memory import MemoryTraffic
from core.tiled import TiledAttentionTrace, TileStep
from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap
from figures.layout import single_layout
from figures.memory import LEGEND_BELOW, MIB

CURRENT, SKIPPED, GRID = "#d62728", "rgba(120,120,120,0.35)", "rgba(60,60,60,0.6)"
TENSOR_COLORS = {"Q": "#6baed6", "K": "#9ecae1", "V": "#c6dbef", "S": "#fb6a4a", "P": "#fcae91", "O": "#74c476"}


def revealed_scores(trace: TiledAttentionTrace, upto: int, n_q: int, n_k: int) -> np.ndarray:
    """The ``(n_q, n_k)`` scores the loop has computed after steps 0..upto (NaN where no tile has been computed yet
    or the tile was skipped; -inf for masked entries inside a computed tile)."""
    out = np.full((n_q, n_k), np.nan)
    for step in trace.steps[: upto + 1]:
        if step.scores is not None:
            (q0, q1), (k0, k1) = step.q_range, step.k_range
            out[q0:q1, k0:k1] = as_numpy(step.scores)
    return out


def tile_grid_figure(
    trace: TiledAttentionTrace, upto: int, q_labels: Sequence[str], k_labels: Sequence[str], *, bound: float
) -> go.Figure:
    """The n×n score matrix as the loop fills it: computed tiles coloured, the current tile outlined in red, tiles
    the causal mask skips shaded grey, tile borders drawn."""
    step = trace.steps[upto]
    shapes = [{"type": "rect", "x0": s.k_range[0] - 0.5, "x1": s.k_range[1] - 0.5, "y0": s.q_range[0] - 0.5,
               "y1": s.q_range[1] - 0.5, "line": {"color": GRID, "width": 1},
               "fillcolor": SKIPPED if s.skipped else "rgba(0,0,0,0)"} for s in trace.steps]
    (q0, q1), (k0, k1) = step.q_range, step.k_range
    shapes.append({"type": "rect", "x0": k0 - 0.5, "x1": k1 - 0.5, "y0": q0 - 0.5, "y1": q1 - 0.5,
                   "line": {"color": CURRENT, "width": 4}})
    return heatmap(revealed_scores(trace, upto, len(q_labels), len(k_labels)), k_labels, q_labels,
                   f"Score matrix, tile by tile<br><sup>step {upto + 1} of {len(trace.steps)}: tile "
                   f"q{q0}–{q1 - 1} × k{k0}–{k1 - 1}</sup>",
                   colorbar_title="score q·k/√d", colorscale=DIVERGING_SCALE, zmin=-bound, zmax=bound, shapes=shapes)


def tile_scores_figure(step: TileStep, *, bound: float) -> go.Figure:
    """The current tile's scores (after scale and mask; masked entries are gaps)."""
    (q0, q1), (k0, k1) = step.q_range, step.k_range
    return heatmap(step.scores, [f"k{j}" for j in range(k0, k1)], [f"q{i}" for i in range(q0, q1)],
                   "Tile scores<br><sup>s = q·k/√d, masked = gap</sup>", colorbar_title="score", colorscale=DIVERGING_SCALE,
                   zmin=-bound, zmax=bound, height=300)


def running_stats_figure(step: TileStep) -> go.Figure:
    """Three stacked panels, one bar group per query row of the block: the running max m and the running sum l
    before and after this tile, and the rescale factor e^(m_old − m_new) applied to the old l and accumulator."""
    rows = [f"q{i}" for i in range(*step.q_range)]
    panels = (("running max m", step.m_before, step.m_after), ("running sum l = Σ e^(s − m)", step.l_before,
                                                                step.l_after))
    traces = []
    for panel, (name, before, after) in enumerate(panels):
        for label, values, color in (("before the tile", before, "#bdbdbd"), ("after the tile", after, "#2171b5")):
            v = as_numpy(values)
            traces.append(go.Bar(
                x=rows, y=np.where(np.isfinite(v), v, np.nan), name=label, marker_color=color, showlegend=panel == 0,
                legendgroup=label, xaxis="x", yaxis=f"y{panel + 1 if panel else ''}",
                text=["−∞" if not np.isfinite(x) else f"{x:.2f}" for x in v], textposition="outside",
                cliponaxis=False, hovertemplate=f"%{{x}}<br>{name}, {label}: %{{text}}<extra></extra>"))
    rescale = as_numpy(step.rescale)
    traces.append(go.Bar(x=rows, y=rescale, name="rescale", marker_color="#cb181d", showlegend=False, xaxis="x",
                         yaxis="y3", text=[f"{x:.3f}" for x in rescale], textposition="outside", cliponaxis=False,
                         hovertemplate="%{x}<br>rescale %{y:.4f}<extra></extra>"))
    titles = (("m", "running max m"), ("l", "running sum l of e^(s − m)"),
              ("factor", "rescale e^(m_old − m_new) of the old l and acc (0 on a row's first tile)"))
    domains = ([0.72, 1.0], [0.36, 0.64], [0.0, 0.28])
    layout = single_layout("Online softmax state of this block", "query row", "", height=520, barmode="group",
                           legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1, "xanchor": "right"})
    layout["xaxis"]["anchor"] = "y3"
    for i, ((y_title, title), domain) in enumerate(zip(titles, domains, strict=True)):
        layout[f"yaxis{i + 1 if i else ''}"] = {"domain": domain, "anchor": "x", "title": {"text": y_title}}
        layout.setdefault("annotations", []).append({
            "text": title, "x": 0, "y": domain[1], "xref": "paper", "yref": "paper", "xanchor": "left",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 12}})
    layout["yaxis3"]["range"] = [0, 1.2]
    return go.Figure(traces, layout)


def partial_output_figure(step: TileStep) -> go.Figure:
    """acc / l after this step: the block's output as if the keys seen so far were all there is."""
    out = as_numpy(step.partial_output)
    bound = float(np.abs(out).max()) or 1.0
    return heatmap(out, [f"dim {c}" for c in range(out.shape[1])], [f"q{i}" for i in range(*step.q_range)],
                   f"Partial output<br><sup>acc / l over keys 0–{step.k_range[1] - 1}</sup>", colorbar_title="value",
                   x_title="output dimension", colorscale=DIVERGING_SCALE, zmin=-bound, zmax=bound, height=300)


def io_bars_figure(traffic: Mapping[str, MemoryTraffic], *, title: str) -> go.Figure:
    """Bytes read and written to slow memory (MiB), one stacked bar per (method, direction), stacked by tensor."""
    bars = []
    names = sorted({t for m in traffic.values() for t in (*m.reads, *m.writes)}, key=list(TENSOR_COLORS).index)
    for tensor in names:
        xs, ys = [], []
        for method, m in traffic.items():
            for direction, parts in (("read", m.reads), ("written", m.writes)):
                xs.append(f"{method}: {direction}")
                ys.append(parts.get(tensor, 0) / MIB)
        bars.append(go.Bar(x=xs, y=ys, name=tensor, marker_color=TENSOR_COLORS[tensor],
                           hovertemplate=f"{tensor}<br>%{{x}}<br>%{{y:,.2f}} MiB<extra></extra>"))
    return go.Figure(bars, single_layout(title, "method and direction", "bytes moved to / from slow memory (MiB)",
                                         height=380, barmode="stack", legend={"title": {"text": "tensor"}}))


def io_vs_n_figure(ns: Sequence[int], totals: Mapping[str, Sequence[int]], *, title: str) -> go.Figure:
    """Total slow-memory traffic (reads + writes, MiB) against n, log-log, one line per method."""
    colors = {"naive": "#cb181d", "tiled": "#2171b5"}
    lines = [go.Scatter(x=list(ns), y=[b / MIB for b in values], mode="lines+markers", name=method,
                        line={"color": colors.get(method)},
                        hovertemplate=f"{method}<br>n %{{x}}<br>%{{y:,.1f}} MiB<extra></extra>")
             for method, values in totals.items()]
    layout = single_layout(title, "sequence length n (log scale)", "reads + writes (MiB, log scale)", height=360,
                           legend=LEGEND_BELOW)
    layout["xaxis"].update(type="log", tickvals=list(ns), ticktext=[f"{n:,}" for n in ns])
    layout["yaxis"]["type"] = "log"
    return go.Figure(lines, layout)
