"""Tokens-and-embeddings figures: the token count as BPE merges grow, nearest neighbours in an embedding matrix,
and one word's cosine similarity across two sentences, layer by layer."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from figures.layout import single_layout

CURRENT_COLOUR = "#ff7f0e"


def token_count_figure(n_merges: Sequence[int], counts: Sequence[int], current_n: int, current_count: int, *,
                       title: str = "Tokens in your text vs merges applied") -> go.Figure:
    """A step curve of counts (K,) at n_merges (K,) (``core.lab.tokens.TokenCountCurve``), the learner's N marked."""
    curve = go.Scatter(x=list(map(int, n_merges)), y=list(map(int, counts)), mode="lines+markers", line_shape="hv",
                       name="token count", marker={"size": 5},
                       hovertemplate="first %{x} merges: %{y} tokens<extra></extra>")  # fmt: skip
    here = go.Scatter(x=[int(current_n)], y=[int(current_count)], mode="markers+text", name=f"N = {current_n}",
                      marker={"size": 13, "color": CURRENT_COLOUR}, text=[f"N = {current_n}: {current_count}"],
                      textposition="top left", hovertemplate="N = %{x}: %{y} tokens<extra></extra>")  # fmt: skip
    layout = single_layout(title, "N: merges applied (the first N of the learned list)", "tokens",
                           yaxis={"title": {"text": "tokens"}, "rangemode": "tozero"}, showlegend=False)  # fmt: skip
    return go.Figure(data=[curve, here], layout=layout)


def neighbours_figure(token: str, labels: Sequence[str], similarities: Sequence[float], weights: str) -> go.Figure:
    """Horizontal bars: the tokens nearest to ``token`` (labels, most similar at the top) and their cosine
    similarities in the embedding matrix of ``weights``. Token strings are HTML-escaped (Plotly renders tags)."""
    title = f"Nearest to '{html.escape(token, quote=False)}' in {weights}"
    names = [html.escape(t, quote=False) for t in labels]
    bars = go.Bar(x=list(map(float, similarities)), y=names, orientation="h", name="cosine",
                  marker={"color": "#1f77b4"}, hovertemplate="%{y}: cos = %{x:.4f}<extra></extra>")  # fmt: skip
    layout = single_layout(title, "cosine similarity", "token", height=60 + 26 * max(len(labels), 4),
                           yaxis={"title": {"text": "token"}, "type": "category", "autorange": "reversed"},
                           xaxis={"title": {"text": "cosine similarity"}, "range": [-1, 1]})  # fmt: skip
    return go.Figure(data=[bars], layout=layout)


def layer_cosine_figure(series: Mapping[str, Sequence[float]], title: str) -> go.Figure:
    """One line per sentence pair: cosine similarity (L + 1,) of a token's vectors at the embedding layer (0) and
    after each layer. The y axis fits the values (small differences stay visible; the caption gives the numbers)."""
    traces = [go.Scatter(x=list(range(len(values))), y=[float(v) for v in np.asarray(values)], mode="lines+markers",
                         name=name, hovertemplate="layer %{x}: cos = %{y:.4f}<extra>" + name + "</extra>")
              for name, values in series.items()]  # fmt: skip
    n = max((len(v) for v in series.values()), default=1)
    ticks = ["0 (embedding + position)", *(f"after layer {i}" for i in range(1, n))]
    layout = single_layout(title, "depth", "cosine similarity",
                           xaxis={"title": {"text": "depth"}, "tickvals": list(range(n)), "ticktext": ticks},
                           yaxis={"title": {"text": "cosine similarity"}, "autorange": True},
                           legend={"orientation": "h", "y": -0.3})  # fmt: skip
    return go.Figure(data=traces, layout=layout)
