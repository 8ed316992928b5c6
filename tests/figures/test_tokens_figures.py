"""Tokens-and-embeddings figures carry exactly the numbers they are given, with user strings escaped."""

from __future__ import annotations

import numpy as np

from figures.tokens import layer_cosine_figure, neighbours_figure, token_count_figure


def test_token_count_figure_is_a_step_curve_with_n_marked():
    fig = token_count_figure([0, 3, 10, 40], [12, 9, 7, 5], 20, 7)
    curve, here = fig.data
    assert list(curve.x) == [0, 3, 10, 40] and list(curve.y) == [12, 9, 7, 5] and curve.line.shape == "hv"
    assert (list(here.x), list(here.y)) == ([20], [7]) and "N = 20" in here.text[0]


def test_neighbours_figure_escapes_tokens_and_keeps_order():
    fig = neighbours_figure("<b>", ["␣river", "<|endoftext|>", "␣stream"], [0.5, 0.25, -0.125], "trained english-gpt")
    (bars,) = fig.data
    assert list(bars.y) == ["␣river", "&lt;|endoftext|&gt;", "␣stream"] and list(bars.x) == [0.5, 0.25, -0.125]
    assert "&lt;b&gt;" in fig.layout.title.text and "<b>" not in fig.layout.title.text
    assert fig.layout.yaxis.autorange == "reversed"  # most similar at the top


def test_layer_cosine_figure_one_line_per_pair():
    a, b = np.array([0.9, 0.7, 0.5]), np.array([0.9, 0.8, 0.85])
    fig = layer_cosine_figure({"A vs B": a, "A vs C (control)": b}, "t")
    assert [t.name for t in fig.data] == ["A vs B", "A vs C (control)"]
    np.testing.assert_array_equal(fig.data[0].y, a)
    assert list(fig.data[1].x) == [0, 1, 2] and fig.layout.xaxis.ticktext[0].startswith("0 (embedding + position)")
