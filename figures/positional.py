"""Figures for positional encodings: the sinusoid table, similarity against distance, RoPE's rotation plane and score
grid, ALiBi and T5 biases, and the permutation experiment. Inputs are arrays / tensors computed by the core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap, heatmap_grid
from figures.layout import single_layout

POSITION_COLOURS = {"none": "#636efa", "sinusoidal": "#ef553b", "learned": "#00cc96", "rope": "#ab63fa"}
Q_COLOUR, K_COLOUR = "#636efa", "#ef553b"


def numbered(n: int, prefix: str = "") -> list[str]:
    """['0', '1', ...] (or with a prefix: ['d0', 'd1', ...]): axis labels for positions and dimensions."""
    return [f"{prefix}{i}" for i in range(n)]


def encoding_heatmap(table, title: str = "Sinusoidal positional encoding") -> go.Figure:
    """The (positions × dimensions) table as a heatmap, values in [-1, 1] on a diverging scale."""
    values = as_numpy(table)
    length, width = values.shape
    return heatmap(values, numbered(width, "d"), numbered(length), title, colorbar_title="PE value",
                   x_title="dimension", y_title="position", zmin=-1, zmax=1, colorscale=DIVERGING_SCALE)


def similarity_heatmap(sim, title: str, *, colorbar_title: str = "cosine") -> go.Figure:
    """A (positions × positions) similarity matrix, e.g. cosine similarity of learned position vectors."""
    values = as_numpy(sim)
    labels = numbered(values.shape[0])
    return heatmap(values, labels, labels, title, colorbar_title=colorbar_title, x_title="position",
                   y_title="position", zmin=-1, zmax=1, colorscale=DIVERGING_SCALE)


def score_vs_offset(grid, starts: Sequence[int], title: str, *, y_title: str = "score q·k") -> go.Figure:
    """Rows of a (query position m, key position n) grid re-indexed by the offset n − m, one line per start m.

    When the value depends on the offset only (RoPE scores, sinusoid dot products), the lines coincide.
    """
    values = as_numpy(grid)
    offsets = np.arange(values.shape[1])
    styles = [("solid", "circle", 9), ("dash", "x", 7), ("dot", "diamond-open", 6)]  # overlapping lines stay visible
    traces = [go.Scatter(x=offsets - m, y=values[m], mode="lines+markers", name=f"from position m={m}",
                         line={"dash": styles[i % 3][0]}, marker={"symbol": styles[i % 3][1], "size": styles[i % 3][2]},
                         hovertemplate=f"m={m}<br>offset %{{x}}<br>{y_title} %{{y:.4f}}<extra></extra>")
              for i, m in enumerate(starts)]
    return go.Figure(data=traces, layout=single_layout(title, "offset n − m", y_title))


def rope_plane_figure(q_path, k_path, m: int, n: int, pair: int) -> go.Figure:
    """One RoPE rotation plane: q and k at every position (faint dots), q at m and k at n as arrows from 0."""
    q_path, k_path = as_numpy(q_path), as_numpy(k_path)
    traces = [
        go.Scatter(x=path[:, 0], y=path[:, 1], mode="markers", name=name, opacity=0.35,
                   marker={"color": colour, "size": 6}, text=numbered(len(path), "position "),
                   hovertemplate="%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>")
        for path, name, colour in ((q_path, "q at every position", Q_COLOUR), (k_path, "k at every position", K_COLOUR))
    ]
    traces += [
        go.Scatter(x=[0, point[0]], y=[0, point[1]], mode="lines+markers", name=label,
                   line={"color": colour, "width": 4}, marker={"size": [0, 12]},
                   hovertemplate=f"{label}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>")
        for point, label, colour in ((q_path[m], f"q at m={m}", Q_COLOUR), (k_path[n], f"k at n={n}", K_COLOUR))
    ]
    reach = 1.15 * float(max(np.abs(q_path).max(), np.abs(k_path).max(), 1e-6))
    layout = single_layout(f"RoPE rotation plane {pair} (features {2 * pair}, {2 * pair + 1})", f"x_{2 * pair}",
                           f"x_{2 * pair + 1}", height=420)
    layout["xaxis"].update(range=[-reach, reach], zeroline=True)
    layout["yaxis"].update(range=[-reach, reach], scaleanchor="x")
    return go.Figure(data=traces, layout=layout)


def score_grid_heatmap(grid, title: str) -> go.Figure:
    """score(q at m, k at n) over (m, n): constant along diagonals when only the offset n − m matters. The colour
    scale is symmetric, so white is a score of 0."""
    values = as_numpy(grid)
    labels = numbered(values.shape[0])
    reach = float(np.abs(values).max()) or 1.0
    return heatmap(values, labels, labels, title, colorbar_title="score q·k", x_title="key position n",
                   y_title="query position m", colorscale=DIVERGING_SCALE, zmin=-reach, zmax=reach)


def alibi_grid(bias, slopes: Sequence[float]) -> go.Figure:
    """ALiBi's bias matrices ``(H, Lq, Lk)``, one panel per head, titled with the head's slope."""
    values = as_numpy(bias)
    labels = numbered(values.shape[-1])
    titles = [f"head {h} · slope {s:.4g}" for h, s in enumerate(slopes)]
    return heatmap_grid(values, labels, labels, titles, "ALiBi bias added to the scores, per head",
                        colorbar_title="bias", colorscale="Viridis")


def bucket_map(buckets) -> go.Figure:
    """The T5 bucket of every (query, key) pair ``(L, L)``: equal buckets share one learned bias."""
    labels = numbered(as_numpy(buckets).shape[0])
    return heatmap(buckets, labels, labels, "Bucket of every (query, key) pair", colorbar_title="bucket",
                   colorscale="Viridis")


def relative_bias_grid(bias, *, trained: bool = False) -> go.Figure:
    """T5 bias per head ``(H, L, L)``, one panel per head."""
    values = as_numpy(bias)
    labels = numbered(values.shape[-1])
    note = "trained" if trained else "untrained, seeded random values: the bucket staircase is the point"
    return heatmap_grid(values, labels, labels, [f"head {h}" for h in range(values.shape[0])],
                        f"Bias per head ({note})", colorbar_title="bias", colorscale=DIVERGING_SCALE)


def bucket_curve(offsets, buckets, num_buckets: int, max_distance: int) -> go.Figure:
    """T5 bucket index against the offset key − query: one bucket per offset near 0, logarithmic farther out."""
    trace = go.Scatter(x=as_numpy(offsets), y=as_numpy(buckets), mode="lines", line={"shape": "hv"}, name="bucket",
                       hovertemplate="offset %{x}<br>bucket %{y}<extra></extra>")
    title = f"T5 relative-position buckets ({num_buckets} buckets, max distance {max_distance})"
    return go.Figure(data=[trace], layout=single_layout(title, "offset key − query", "bucket"))


def permutation_bars(deviations: Mapping[str, object], labels: Sequence[str]) -> go.Figure:
    """Per position of the shuffled input: max |out(PX) − P·out(X)|, one bar group per positional scheme."""
    traces = [go.Bar(x=list(labels), y=as_numpy(values), name=mode, marker_color=POSITION_COLOURS.get(mode),
                     hovertemplate=f"{mode}<br>%{{x}}<br>max |Δ| %{{y:.3e}}<extra></extra>")
              for mode, values in deviations.items()]
    layout = single_layout("Shuffle the tokens: how far is out(P·X) from P·out(X)?",
                           "position in the shuffled sequence", "max |out(PX) − P·out(X)|", height=380,
                           barmode="group")
    layout["xaxis"]["type"] = "category"
    return go.Figure(data=traces, layout=layout)
