"""Training and decoding figures: loss / accuracy curves, next-token probability bars (and the cut a sampling rule
makes in them), KV-cache size and speed."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from core.lab.sampling_cut import SamplingCut
from figures.heatmap import grid_axes, panel_title_annotations

LOSS_COLOUR, TOKEN_COLOUR, EXACT_COLOUR, HELD_OUT_COLOUR = "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"


def training_curves(
    steps: Sequence[int],
    loss: Sequence[float],
    token_accuracy: Sequence[float],
    exact_match: Sequence[float],
    *,
    eval_steps: Sequence[int] = (),
    eval_exact_match: Sequence[float] = (),
    title: str = "Training curves",
    total_steps: int | None = None,
) -> go.Figure:
    """Loss (top, log scale) and accuracy (bottom: token, exact match on the training batch, held-out exact match)."""
    x, top, bottom = {"x": list(steps)}, {"xaxis": "x", "yaxis": "y"}, {"xaxis": "x2", "yaxis": "y2"}
    traces = [go.Scatter(**x, y=list(loss), name="loss", line={"color": LOSS_COLOUR}, **top)]
    for name, values, colour in (("token accuracy", token_accuracy, TOKEN_COLOUR),
                                 ("exact match (batch)", exact_match, EXACT_COLOUR)):  # fmt: skip
        traces.append(go.Scatter(**x, y=list(values), name=name, line={"color": colour}, **bottom))
    if len(eval_steps):
        traces.append(go.Scatter(x=list(eval_steps), y=list(eval_exact_match), name="exact match (held-out)",
                                 mode="lines+markers", line={"color": HELD_OUT_COLOUR, "dash": "dot"}, **bottom))
    axes = grid_axes(2, 1, v_gap=0.08)
    axes["xaxis"].update({"matches": "x2", "showticklabels": False})
    axes["xaxis2"].update({"title": {"text": "step"}, "range": [0, total_steps] if total_steps else None})
    axes["yaxis"].update({"type": "log", "title": {"text": "loss"}})
    axes["yaxis2"].update({"range": [0, 1.02], "title": {"text": "share right"}})
    layout = {**axes, "annotations": panel_title_annotations(("cross-entropy loss (training batch)", "accuracy"), axes),
              "title": {"text": title}, "height": 460, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
              "legend": {"orientation": "h", "y": -0.15}}  # fmt: skip
    return go.Figure(data=traces, layout=layout)


def probability_bars(
    labels: Sequence[str],
    probs: Sequence[float],
    *,
    model_probs: Sequence[float] | None = None,
    chosen: int | None = None,
    top: int = 16,
    title: str = "Next-token probabilities",
) -> go.Figure:
    """The ``top`` most likely tokens of ``probs`` (the distribution sampled from), largest first; ``chosen`` (an index
    into labels) is drawn in orange; ``model_probs`` (softmax at T = 1, before any cut) as a grey outline beside."""
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], -(model_probs[i] if model_probs else 0)))[:top]
    names = [repr(labels[i]) for i in order]
    colours = ["#ff7f0e" if i == chosen else "#1f77b4" for i in order]
    traces = []
    if model_probs is not None:
        traces.append(go.Bar(x=names, y=[model_probs[i] for i in order], name="model (T = 1, no cut)",
                             marker={"color": "rgba(0,0,0,0)", "line": {"color": "grey", "width": 2}}))  # fmt: skip
    traces.append(go.Bar(x=names, y=[probs[i] for i in order], name="sampled from", marker={"color": colours},
                         hovertemplate="token %{x}<br>p = %{y:.4f}<extra></extra>"))  # fmt: skip
    layout = {"title": {"text": title}, "barmode": "group", "height": 340,
              "yaxis": {"rangemode": "tozero", "title": {"text": "p"}},
              "xaxis": {"title": {"text": "token"}, "type": "category"},
              "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}  # fmt: skip
    return go.Figure(data=traces, layout=layout)


CUT_COLOUR, KEPT_COLOUR = "#bdbdbd", "#1f77b4"


def sampling_cut_figure(cut: SamplingCut, labels: Sequence[str], *, chosen: int | None = None, top_k: int | None = None,
                        top_p: float = 1.0, title: str = "Next-token distribution and the sampling cut") -> go.Figure:
    """The cut of :func:`core.lab.sampling_cut.sampling_cut`, one token per column (``labels``: its readable strings,
    most likely first). Outlined bars: softmax(z / T) before the cut (grey, hatched where top-k / top-p / greedy
    removed the token); filled bars: the renormalised distribution sampled from (``chosen``, a token id, in orange);
    diamonds: the model at T = 1; a line (right axis, 0…1): the cumulative mass before the cut, with the top-p
    threshold and the top-k boundary dashed. The bars' axis fits the largest bar: small probabilities stay legible."""
    names = [repr(s) for s in labels]
    before, after, model = cut.before.tolist(), cut.after.tolist(), cut.model.tolist()
    hover = "token %{x}<br>%{fullData.name}: %{y:.4f}<extra></extra>"
    traces = [
        dict(type="bar", x=names, y=before, name="before the cut: softmax(z / T)", customdata=list(cut.reason),
               marker={"color": ["rgba(0,0,0,0)" if not r else CUT_COLOUR for r in cut.reason],
                       "line": {"color": [KEPT_COLOUR if not r else "grey" for r in cut.reason], "width": 1.5},
                       "pattern": {"shape": ["" if not r else "/" for r in cut.reason]}},
               hovertemplate="token %{x}<br>before the cut: %{y:.4f}<br>removed by: %{customdata}<extra></extra>"),
        dict(type="bar", x=names, y=after, name="sampled from (renormalised)", hovertemplate=hover,
               marker={"color": ["#ff7f0e" if i == chosen else KEPT_COLOUR for i in cut.ids]}),
        dict(type="scatter", x=names, y=model, name="model at T = 1", mode="markers", hovertemplate=hover,
                   marker={"symbol": "diamond", "color": "black", "size": 7}),
        dict(type="scatter", x=names, y=cut.cumulative.tolist(), name="cumulative, before the cut (right axis)",
                   mode="lines", line={"color": "#2ca02c"}, hovertemplate=hover, yaxis="y2"),
    ]  # fmt: skip
    shapes, notes = [], []
    if top_p < 1:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2", "y0": top_p, "y1": top_p,
                       "line": {"color": "#2ca02c", "dash": "dash"}})  # fmt: skip
        notes.append({"xref": "paper", "x": 1, "yref": "y2", "y": top_p, "text": f"top-p = {top_p:g}",
                      "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                      "font": {"color": "#2ca02c"}})  # fmt: skip
    if top_k is not None and top_k < len(names):
        shapes.append({"type": "line", "x0": top_k - 0.5, "x1": top_k - 0.5, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": "#d62728", "dash": "dash"}})  # fmt: skip
        notes.append({"x": top_k - 0.5, "yref": "paper", "y": 1, "text": f"top-k = {top_k}", "showarrow": False,
                      "xanchor": "left", "font": {"color": "#d62728"}})  # fmt: skip
    layout = {"title": {"text": title}, "barmode": "group", "height": 440, "shapes": shapes, "annotations": notes,
              "yaxis": {"rangemode": "tozero", "title": {"text": "p (bars)"}},
              "yaxis2": {"range": [0, 1.02], "overlaying": "y", "side": "right", "showgrid": False, "dtick": 0.2,
                         "tickformat": ".1f", "title": {"text": "cumulative p"}},
              "xaxis": {"type": "category", "tickangle": -45},
              "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
              "legend": {"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"}}  # fmt: skip
    return go.Figure(data=traces, layout=layout)


def kv_cache_figure(cache_bytes: Sequence[Sequence[int]], seconds: dict[str, float]) -> go.Figure:
    """Left: bytes of each layer's real K/V cache tensors after each generated token (one line per layer).
    Right: measured median time per token with and without the cache (``seconds``: label -> s)."""
    n_layers = len(cache_bytes[0]) if cache_bytes else 0
    traces = []
    for layer in range(n_layers):
        sizes = [step[layer] for step in cache_bytes]
        traces.append(dict(type="scatter", x=list(range(1, len(sizes) + 1)), y=sizes, mode="lines+markers",
                                 name=f"layer {layer} K+V"))  # fmt: skip
    traces.append(dict(type="bar", x=list(seconds), y=[1000 * s for s in seconds.values()], name="ms / token",
                         marker={"color": ["#2ca02c", "#d62728"][: len(seconds)]}, xaxis="x2", yaxis="y2",
                         hovertemplate="%{x}: %{y:.3f} ms<extra></extra>"))  # fmt: skip
    gap = 0.1
    axes = {
        "xaxis": {"domain": [0, 0.6 - gap / 2], "anchor": "y", "title": {"text": "tokens generated"}},
        "yaxis": {"anchor": "x", "title": {"text": "bytes"}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.6 + gap / 2, 1], "anchor": "y2"},
        "yaxis2": {"anchor": "x2", "title": {"text": "ms"}, "rangemode": "tozero"},
    }
    layout = {**axes, "annotations": panel_title_annotations(("KV cache size per layer", "time per generated token"),
                                                             {k: {**v, "domain": v.get("domain", [0, 1])}
                                                              for k, v in axes.items()}),
              "height": 340, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
              "legend": {"orientation": "h", "y": -0.2}}  # fmt: skip
    return go.Figure(data=traces, layout=layout)
