"""figures.heatmap.unvalidated_figure builds maps and the step-by-step page's bar charts without Plotly's validation
(the fast path); here every kind of figure built that way is rebuilt from its own JSON *with* validation (the
reference path), which must accept it and give the same JSON."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from figures.architecture import masked_attention, masked_maps_side_by_side
from figures.attention_steps import STAGES, qkv_figure, query_row_figure, stage_figure, weighted_sum_figure
from figures.heatmap import DIVERGING_SCALE, heatmap, heatmap_grid, unvalidated_figure
from figures.masks import mask_gallery_figure
from figures.multihead import heads_figure
from figures.small_multiples import every_label

RNG = np.random.default_rng(0)
T = 5
LABELS = [f"{i}·t{i}" for i in range(T)]
W = RNG.random((3, T, T))
CAUSAL = np.tril(np.ones((T, T), dtype=bool))
SCORES = np.where(CAUSAL, RNG.normal(size=(T, T)), -np.inf)

BUILDERS = {
    "heatmap": lambda: heatmap(W[0], LABELS, LABELS, "weights", zmin=0, zmax=1),
    "heatmap, gaps and a diverging scale": lambda: heatmap(SCORES, LABELS, LABELS, "scores", colorscale=DIVERGING_SCALE,
                                                           colorbar_title="score", x_title="k", y_title="q"),
    "heatmap with shapes": lambda: heatmap(W[1], LABELS, LABELS, "tiles", shapes=[
        {"type": "rect", "x0": -0.5, "x1": 1.5, "y0": -0.5, "y1": 1.5, "line": {"width": 2}}]),
    "every label": lambda: every_label(heatmap(W[2], LABELS, LABELS, "w")),
    "grid, shared scale": lambda: heatmap_grid(W, LABELS, LABELS, ["a", "b", "c"], "grid"),
    "grid, own scales": lambda: heatmap_grid(W - 0.5, LABELS, LABELS, ["a", "b", "c"], "grid", shared_scale=False,
                                             colorscale=DIVERGING_SCALE),
    "heads": lambda: heads_figure(W, LABELS),
    "mask gallery with cross": lambda: mask_gallery_figure(np.stack([CAUSAL, ~CAUSAL]).astype(float),
                                                           ["causal", "anti", "cross (5×3)"], LABELS,
                                                           cross=np.ones((T, 3)), source_labels=["s0", "s1", "s2"],
                                                           target_labels=LABELS),
    "masked attention": lambda: masked_attention(W[0], CAUSAL, LABELS, LABELS, "masked"),
    "side by side": lambda: masked_maps_side_by_side([(W[0], CAUSAL, LABELS), (W[1][:3, :3], CAUSAL[:3, :3],
                                                       LABELS[:3])], ["gpt", "bert"], "two models"),
    "qkv": lambda: qkv_figure(W[0], W[1], W[2], LABELS),
    "stage": lambda: stage_figure({"raw_scores": SCORES}, next(iter(STAGES)), LABELS),
    "query row, a masked key": lambda: query_row_figure(SCORES[1], W[0][1], LABELS, LABELS[1]),
    "weighted sum": lambda: weighted_sum_figure(W[0][0], W[1], W[2][0], LABELS, LABELS[0]),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_fast_path_equals_validated_figure(name):
    fast = BUILDERS[name]()
    validated = go.Figure(fast.to_plotly_json())  # raises on any property Plotly does not know
    assert json.loads(fast.to_json()) == json.loads(validated.to_json())


def test_fast_path_resolves_colour_scale_names_as_plotly_does():
    fig = unvalidated_figure([{"type": "heatmap", "z": W[0], "colorscale": "RdBu_r"}], {})
    assert fig.data[0].colorscale == go.Figure(data=[go.Heatmap(z=W[0], colorscale="RdBu_r")]).data[0].colorscale
    assert fig.data[0].colorscale[0][1] == "rgb(5,48,97)"  # reversed RdBu: dark blue first
