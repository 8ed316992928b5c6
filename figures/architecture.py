"""Figures for the three families: their data flow as a block diagram, attention maps with the mask's blocked cells
left blank, and a decoder's next-token distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import (
    GridPanel,
    as_numpy,
    grid_axes,
    heatmap,
    panel_title_annotations,
    panel_trace,
    unvalidated_figure,
)
from figures.layout import MARGIN, single_layout

BOX_W, BOX_H = 0.72, 0.55
ENC, DEC = 2.05, 3.25  # the encoder-decoder columns: far enough apart for the memory arrow
COLOURS = {"io": "#e8eef9", "embed": "#fdf1d6", "layer": "#dcf2e6", "head": "#f9e0e0"}

# (column x, row y, text, kind); rows go bottom (input) to top (output). Static text only: never user input.
FLOW: dict[str, list[tuple[float, float, str, str]]] = {
    "encoder-only": [
        (0, 0, "tokens, some hidden<br>e.g. ab?de=a?cd?", "io"),
        (0, 1, "embed + positions", "embed"),
        (0, 2, "N × encoder layer<br>bidirectional<br>self-attn + FFN", "layer"),
        (0, 3, "MLM head: a token<br>for every position", "head"),
    ],
    "decoder-only": [
        (1, 0, "tokens so far<br>e.g. ^abcdef=", "io"),
        (1, 1, "embed + positions", "embed"),
        (1, 2, "N × decoder layer<br>causal self-attn<br>+ FFN", "layer"),
        (1, 3, "LM head: the<br>next token", "head"),
    ],
    "encoder-decoder": [
        (ENC, 0, "source<br>22 Nov 2026", "io"),
        (ENC, 1, "embed + positions", "embed"),
        (ENC, 2, "N × encoder layer<br>bidirectional<br>self-attn + FFN", "layer"),
        (DEC, 0, "target so far<br>^2026-11-", "io"),
        (DEC, 1, "embed + positions", "embed"),
        (DEC, 2, "N × decoder layer<br>causal self-attn<br>+ cross-attn + FFN", "layer"),
        (DEC, 3, "next token", "head"),
    ],
}


def _arrow(x0: float, y0: float, x1: float, y1: float, text: str = "") -> dict:
    return {"x": x1, "y": y1, "ax": x0, "ay": y0, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
            "showarrow": True, "arrowhead": 2, "arrowwidth": 1.5, "arrowcolor": "#555", "text": text,
            "font": {"size": 10}}


def flow_diagram() -> go.Figure:
    """The three families side by side: input at the bottom, output at the top, the encoder's output feeding the
    decoder's cross-attention in the encoder-decoder."""
    shapes, annotations, xs, ys, texts, hovers = [], [], [], [], [], []
    for family, boxes in FLOW.items():
        for (x, y, text, kind), above in zip(boxes, boxes[1:] + [None], strict=True):
            shapes.append({"type": "rect", "x0": x - BOX_W / 2, "x1": x + BOX_W / 2, "y0": y - BOX_H / 2,
                           "y1": y + BOX_H / 2, "fillcolor": COLOURS[kind], "line": {"color": "#888"},
                           "layer": "below"})
            xs.append(x)
            ys.append(y)
            texts.append(text)
            hovers.append(f"{family}: {text}")
            if above is not None and above[0] == x:  # the next box of the same column
                annotations.append(_arrow(x, y + BOX_H / 2, x, above[1] - BOX_H / 2))
    annotations.append(_arrow(ENC + BOX_W / 2, 2, DEC - BOX_W / 2, 2))  # encoder output -> cross-attention
    loop_x = 1 + BOX_W / 2 + 0.08  # decoder-only: the predicted token is appended to the input
    annotations.append(_arrow(loop_x, 3, loop_x, 0))
    notes = [((ENC + DEC) / 2, 2.2, "memory:<br>keys, values"), (loop_x + 0.12, 1.5, "append,<br>repeat")]
    titles = [(0, 3.75, "<b>encoder-only (BERT)</b>"), (1, 3.75, "<b>decoder-only (GPT)</b>"),
              ((ENC + DEC) / 2, 3.75, "<b>encoder-decoder (T5)</b>")]
    boxes = go.Scatter(x=xs, y=ys, text=texts, hovertext=hovers, mode="text", hoverinfo="text", name="blocks",
                       textfont={"size": 10})  # text traces: one object, far cheaper than an annotation per label
    labels = go.Scatter(x=[x for x, _, _ in notes + titles], y=[y for _, y, _ in notes + titles],
                        text=[t for _, _, t in notes + titles], mode="text", hoverinfo="skip", name="labels",
                        textfont={"size": [10] * len(notes) + [13] * len(titles)})
    hidden = {"visible": False, "fixedrange": True}
    layout = {"title": {"text": "Data flow of the three families (bottom: input, top: output)"}, "height": 440,
              "margin": MARGIN, "shapes": shapes, "annotations": annotations, "showlegend": False,
              "xaxis": {**hidden, "range": [-0.45, DEC + 0.45]}, "yaxis": {**hidden, "range": [-0.45, 3.95]}}
    return go.Figure(data=[boxes, labels], layout=layout)


def masked_attention(weights, mask, query_labels: Sequence[str], key_labels: Sequence[str], title: str) -> go.Figure:
    """Attention weights ``(Lq, Lk)`` with the cells the mask blocks left blank (white gaps)."""
    values = np.where(as_numpy(mask) > 0, as_numpy(weights), np.nan)
    return heatmap(values, key_labels, query_labels, title)


def masked_maps_side_by_side(maps: Sequence[tuple[object, object, Sequence[str]]], panel_titles: Sequence[str],
                              title: str, *, max_ticks: int = 32) -> go.Figure:
    """Attention maps side by side on one 0…1 colour bar, the mask's blocked cells blank: ``maps`` holds
    (weights ``(T, T)``, mask ``(T, T)`` bool, token labels ``T``) per panel (T may differ). Every token label is
    shown while a panel has at most ``max_ticks`` (the hover always names query and key)."""
    panels = [GridPanel(np.where(as_numpy(mask) > 0, as_numpy(w), np.nan), labels, labels, t)
              for (w, mask, labels), t in zip(maps, panel_titles, strict=True)]
    axes = grid_axes(len(panels), len(panels), h_gap=0.12)  # room for the right panel's query labels
    traces = [panel_trace(panel, p, zmin=0.0, zmax=1.0, colorscale="Blues", colorbar_title="weight",
                          value_name="weight") for p, panel in enumerate(panels)]
    longest = max(len(panel.x_labels) for panel in panels)
    for p, panel in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        ticks = {"type": "category", "showticklabels": len(panel.x_labels) <= max_ticks, "dtick": 1,
                 "tickfont": {"size": 9}}
        axes[f"xaxis{suffix}"].update({**ticks, "tickangle": -60})
        axes[f"yaxis{suffix}"].update({**ticks, "autorange": "reversed"})
    layout = {**axes, "annotations": panel_title_annotations(panel_titles, axes), "title": {"text": title},
              "height": max(340, min(900, 170 + 16 * longest)), "margin": {"l": 10, "r": 10, "t": 80, "b": 10}}
    return unvalidated_figure(traces, layout)


def next_token_bars(candidates: Sequence[tuple[str, float]], title: str) -> go.Figure:
    """The most likely next tokens and their probabilities."""
    tokens = [f"'{tok}'" for tok, _ in candidates]
    trace = go.Bar(x=tokens, y=[p for _, p in candidates], text=[f"{p:.3f}" for _, p in candidates],
                   textposition="auto", hovertemplate="next token %{x}<br>p = %{y:.4f}<extra></extra>")
    layout = single_layout(title, "next token", "probability", height=320)
    layout["xaxis"]["type"] = "category"
    layout["yaxis"]["range"] = [0, 1]
    return go.Figure(data=[trace], layout=layout)
