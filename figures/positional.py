"""Figures for positional encodings: the sinusoid table, similarity by distance, RoPE's rotation plane, ALiBi and
T5 biases, and the permutation experiment. Inputs are numpy arrays / tensors computed by the core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap, heatmap_grid

POSITION_COLOURS = {"none": "#636efa", "sinusoidal": "#ef553b", "learned": "#00cc96", "rope": "#ab63fa"}


def _numbers(n: int, prefix: str = "") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def encoding_heatmap(table, title: str = "Sinusoidal positional encoding") -> go.Figure:
    """The (positions × dimensions) table as a heatmap, values in [-1, 1] on a diverging scale."""
    values = as_numpy(table)
    length, width = values.shape
    return heatmap(values, _numbers(width, "d"), _numbers(length), title, colorbar_title="PE value",
                   x_title="dimension", y_title="position", zmin=-1, zmax=1, colorscale=DIVERGING_SCALE)


def similarity_by_distance(curves: Mapping[str, tuple[object, object]], reference: int) -> go.Figure:
    """Similarity between position ``reference`` and every position, one panel per measure.

    curves: {"dot product": (positions, values), "cosine": (positions, values)}.
    """
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=list(curves), horizontal_spacing=0.12)
    for col, (name, (positions, values)) in enumerate(curves.items(), start=1):
        fig.add_trace(go.Scatter(x=as_numpy(positions), y=as_numpy(values), mode="lines+markers", name=name,
                                 hovertemplate=f"position %{{x}}<br>{name} %{{y:.4f}}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="position", row=1, col=col)
        fig.update_yaxes(title_text=f"{name} with position {reference}", row=1, col=col)
    fig.update_layout(title={"text": f"Similarity of PE({reference}) to every other position"}, showlegend=False,
                      height=340, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig


def rope_plane_figure(q_path, k_path, m: int, n: int, pair: int) -> go.Figure:
    """One RoPE rotation plane: q at every position (faint circle), q at m and k at n as arrows from the origin."""
    q_path, k_path = as_numpy(q_path), as_numpy(k_path)
    fig = go.Figure()
    for path, name, colour in ((q_path, "q at every position", "#636efa"), (k_path, "k at every position", "#ef553b")):
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="markers", name=name, opacity=0.35,
                                 marker={"color": colour, "size": 6}, text=_numbers(len(path), "position "),
                                 hovertemplate="%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>"))
    for point, label, colour in ((q_path[m], f"q at m={m}", "#636efa"), (k_path[n], f"k at n={n}", "#ef553b")):
        fig.add_trace(go.Scatter(x=[0, point[0]], y=[0, point[1]], mode="lines+markers", name=label,
                                 line={"color": colour, "width": 4}, marker={"size": [0, 12]},
                                 hovertemplate=f"{label}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>"))
    reach = 1.15 * float(max(np.abs(q_path).max(), np.abs(k_path).max(), 1e-6))
    fig.update_layout(
        title={"text": f"RoPE rotation plane {pair} (features {2 * pair}, {2 * pair + 1})"},
        xaxis={"title": {"text": f"x_{2 * pair}"}, "range": [-reach, reach], "zeroline": True},
        yaxis={"title": {"text": f"x_{2 * pair + 1}"}, "range": [-reach, reach], "scaleanchor": "x"},
        height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def score_grid_heatmap(grid, title: str) -> go.Figure:
    """score(q at m, k at n) over (m, n): constant along diagonals when only the offset n - m matters."""
    values = as_numpy(grid)
    labels = _numbers(values.shape[0])
    return heatmap(values, labels, labels, title, colorbar_title="score q·k", x_title="key position n",
                   y_title="query position m", colorscale=DIVERGING_SCALE)


def alibi_grid(bias, slopes: Sequence[float]) -> go.Figure:
    """ALiBi's bias matrices, one panel per head, titled with the head's slope."""
    values = as_numpy(bias)
    labels = _numbers(values.shape[-1])
    titles = [f"head {h} · slope {s:.4g}" for h, s in enumerate(slopes)]
    return heatmap_grid(values, labels, labels, titles, "ALiBi bias added to the scores, per head",
                        colorbar_title="bias", colorscale="Viridis")


def bucket_curve(offsets, buckets, num_buckets: int, max_distance: int) -> go.Figure:
    """T5 bucket index as a function of the offset key - query: exact near 0, logarithmic farther out."""
    fig = go.Figure(go.Scatter(x=as_numpy(offsets), y=as_numpy(buckets), mode="lines", line={"shape": "hv"},
                               name="bucket", hovertemplate="offset %{x}<br>bucket %{y}<extra></extra>"))
    fig.update_layout(title={"text": f"T5 relative-position buckets ({num_buckets} buckets, max distance "
                                     f"{max_distance})"},
                      xaxis={"title": {"text": "offset key − query"}}, yaxis={"title": {"text": "bucket"}},
                      height=340, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def permutation_bars(deviations: Mapping[str, object], labels: Sequence[str]) -> go.Figure:
    """Per position of the shuffled input: max |out(PX) − P·out(X)|, one bar group per positional scheme."""
    fig = go.Figure()
    for mode, values in deviations.items():
        fig.add_trace(go.Bar(x=list(labels), y=as_numpy(values), name=mode, marker_color=POSITION_COLOURS.get(mode),
                             hovertemplate=f"{mode}<br>%{{x}}<br>max |Δ| %{{y:.3e}}<extra></extra>"))
    fig.update_layout(title={"text": "Shuffle the tokens: how far is out(P·X) from P·out(X)?"}, barmode="group",
                      xaxis={"title": {"text": "position in the shuffled sequence"}, "type": "category"},
                      yaxis={"title": {"text": "max |out(PX) − P·out(X)|"}},
                      height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def score_vs_offset(grid, starts: Sequence[int], title: str) -> go.Figure:
    """Rows of a score grid re-indexed by offset n − m: one line per starting query position m.

    With RoPE the lines coincide (the score depends on the offset only); with absolute encodings they do not.
    """
    values = as_numpy(grid)
    length = values.shape[1]
    fig = go.Figure()
    for m in starts:
        offsets = np.arange(length) - m
        fig.add_trace(go.Scatter(x=offsets, y=values[m], mode="lines+markers", name=f"query at m={m}",
                                 hovertemplate=f"m={m}<br>offset %{{x}}<br>score %{{y:.4f}}<extra></extra>"))
    fig.update_layout(title={"text": title}, xaxis={"title": {"text": "offset n − m"}},
                      yaxis={"title": {"text": "score q·k"}}, height=340, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
