"""Figures of the foundation pages carry exactly the numbers they are given (and escape user text)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.lab.softmax_stats import d_k_grid, scaling_sweep
from figures.attention_steps import contributions, dim_labels, query_row_figure, token_labels, weighted_sum_figure
from figures.heatmap import heatmap, heatmap_grid
from figures.masks import mask_gallery_figure
from figures.multihead import SHAPE_STEPS, concat_figure, divergence_figure, heads_figure, shape_rows
from figures.scaling import example_weights_figure, gradient_figure, saturation_figure, spread_figure
from figures.scoring import cost_figure
from figures.small_multiples import block_separators, every_label, first_column_labels_only, symmetric_range


def arr(x) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=float) if isinstance(x, (list, tuple)) \
        else np.asarray(x, dtype=float)


def test_token_labels_escape_truncate_and_stay_unique():
    assert token_labels(["the", "cat", "the"]) == ["0·the", "1·cat", "2·the"]
    assert token_labels(["<b>x</b>"]) == ["0·&lt;b&gt;x&lt;/b&gt;"]
    assert token_labels(["<b>"], escape=False) == ["0·<b>"]
    long = token_labels(["x" * 100], max_chars=10)[0]
    assert long == "0·" + "x" * 9 + "…"
    assert dim_labels(3, "q") == ["q0", "q1", "q2"]


def test_query_row_figure_shows_scores_with_gaps_for_masked_keys_and_weights():
    scores = np.array([1.5, -np.inf, 0.25])
    weights = np.array([0.78, 0.0, 0.22])
    fig = query_row_figure(scores, weights, ["0·a", "1·b", "2·c"], "0·a")
    score_bars, weight_bars = fig.data
    assert list(score_bars.y) == [1.5, None, 0.25]
    assert list(weight_bars.y) == [0.78, 0.0, 0.22]
    assert list(weight_bars.x) == ["0·a", "1·b", "2·c"]
    assert "Query 0·a" in fig.layout.title.text


def test_weighted_sum_segments_add_up_to_the_output():
    w = torch.softmax(torch.randn(4, dtype=torch.float64), -1)
    v = torch.randn(4, 3, dtype=torch.float64)
    out = w @ v
    parts = contributions(w, v)
    np.testing.assert_allclose(parts, (w[:, None] * v).numpy())
    fig = weighted_sum_figure(w, v, out, [f"{i}·k" for i in range(4)], "0·k")
    assert fig.layout.barmode == "relative" and len(fig.data) == 5
    stacked = np.sum([arr(t.y) for t in fig.data[:4]], axis=0)
    np.testing.assert_allclose(stacked, out.numpy())
    np.testing.assert_allclose(arr(fig.data[4].y), out.numpy())
    assert list(fig.data[4].x) == ["d0", "d1", "d2"]


@pytest.fixture(scope="module")
def sweep():
    return scaling_sweep(d_k_grid(64), n_keys=8, n_samples=60, seed=0)


def test_scaling_figures_carry_the_sweep(sweep):
    spread = spread_figure(sweep)
    np.testing.assert_allclose(arr(spread.data[0].y), np.sqrt(sweep.d_ks))
    np.testing.assert_allclose(arr(spread.data[1].y), sweep.dot_std)
    np.testing.assert_allclose(arr(spread.data[2].y), sweep.scaled_std)
    assert list(spread.data[1].x) == [1, 2, 4, 8, 16, 32, 64]
    assert spread.layout.xaxis.type == "log" and spread.layout.yaxis.type == "log"

    sat = saturation_figure(sweep)
    np.testing.assert_allclose(arr(sat.data[0].y), sweep.max_weight_unscaled)
    np.testing.assert_allclose(arr(sat.data[1].y), sweep.max_weight_scaled)
    np.testing.assert_allclose(arr(sat.data[2].y), 1 / 8)  # uniform limit
    np.testing.assert_allclose(arr(sat.data[3].y), sweep.entropy_unscaled)
    np.testing.assert_allclose(arr(sat.data[5].y), math.log(8))

    grad = gradient_figure(sweep)
    np.testing.assert_allclose(arr(grad.data[0].y), sweep.jacobian_norm_unscaled)
    np.testing.assert_allclose(arr(grad.data[1].y), sweep.jacobian_norm_scaled)

    ex = example_weights_figure(sweep, 3)
    np.testing.assert_allclose(arr(ex.data[0].y), sweep.example_unscaled[3])
    np.testing.assert_allclose(arr(ex.data[1].y), sweep.example_scaled[3])
    assert "d_k = 8" in ex.layout.title.text


def test_cost_figure():
    fig = cost_figure(["a", "b"], [10, 2000], [0.5, 1.25], 64, 16, 8, "cpu")
    assert list(fig.data[0].y) == [10, 2000] and list(fig.data[1].y) == [0.5, 1.25]
    assert list(fig.data[0].x) == ["a", "b"]
    assert "L_q = L_k = 64" in fig.layout.title.text


def test_mask_gallery_figure_shows_each_mask():
    masks = np.stack([np.ones((3, 3)), np.tril(np.ones((3, 3)))])
    fig = mask_gallery_figure(masks, ["none", "causal"], ["0·a", "1·b", "2·c"])
    assert len(fig.data) == 2
    np.testing.assert_allclose(np.asarray(fig.data[1].z, dtype=float), masks[1])
    assert [a.text for a in fig.layout.annotations] == ["none", "causal"]
    assert fig.layout.yaxis.showticklabels and not fig.layout.yaxis2.showticklabels
    assert all(t.zmin == 0 and t.zmax == 1 for t in fig.data)
    assert list(fig.data[0].x) == ["0·a", "1·b", "2·c"]
    with pytest.raises(ValueError):
        mask_gallery_figure(masks, ["none"], ["0·a", "1·b", "2·c"])


def test_mask_gallery_figure_draws_a_non_square_cross_mask_with_its_own_labels():
    masks = np.stack([np.ones((3, 3)), np.tril(np.ones((3, 3)))])
    cross = np.array([[1.0, 1.0, 1.0, 0.0]] * 2)  # (L_t = 2, L_s = 4), the last source position padding
    source, target = ["0·s0", "1·s1", "2·s2", "3·&lt;pad&gt;"], ["0·t0", "1·t1"]
    fig = mask_gallery_figure(masks, ["none", "causal", "cross"], ["0·a", "1·b", "2·c"], cross=cross,
                              source_labels=source, target_labels=target)
    assert len(fig.data) == 3
    panel = fig.data[2]
    np.testing.assert_allclose(np.asarray(panel.z, dtype=float), cross)
    assert list(panel.x) == source and list(panel.y) == target  # keys = source, queries = target
    assert panel.xaxis == "x3" and panel.yaxis == "y3" and panel.zmin == 0 and panel.zmax == 1
    assert "target query %{y}" in panel.hovertemplate and "source key %{x}" in panel.hovertemplate
    assert fig.layout.yaxis3.showticklabels and not fig.layout.yaxis2.showticklabels
    assert fig.layout.xaxis3.domain[0] - fig.layout.xaxis2.domain[1] > 0.05  # room for its query labels
    assert [t.showscale for t in fig.data] == [True, False, False]
    with pytest.raises(ValueError, match="cross mask"):
        mask_gallery_figure(masks, ["none", "causal"], ["0·a", "1·b", "2·c"], cross=cross)


def test_multihead_figures():
    w = torch.softmax(torch.randn(4, 5, 5), -1).numpy()
    labels = [f"{i}·t" for i in range(5)]
    shared = heads_figure(w, labels, shared_scale=True)
    assert len(shared.data) == 4
    np.testing.assert_allclose(np.asarray(shared.data[2].z, dtype=float), w[2])
    assert len({(t.zmin, t.zmax) for t in shared.data}) == 1
    assert [t.showscale for t in shared.data] == [True, False, False, False]
    assert shared.data[0].colorbar.title.text == "weight" and shared.data[0].customdata is None
    own = heads_figure(w, labels, shared_scale=False)
    for h in range(4):  # each head ÷ its own max: one 0–1 colour bar true for every panel; the hover keeps the weight
        np.testing.assert_allclose(np.asarray(own.data[h].z, dtype=float), w[h] / w[h].max())
        np.testing.assert_allclose(np.asarray(own.data[h].customdata, dtype=float), w[h])
        assert (own.data[h].zmin, own.data[h].zmax) == (0, 1) and "%{customdata:.4f}" in own.data[h].hovertemplate
    assert [t.showscale for t in own.data] == [True, False, False, False]
    assert own.data[0].colorbar.title.text == "weight ÷ head max"
    assert "each head ÷ its own max" in own.layout.title.text

    concat = np.random.default_rng(0).normal(size=(5, 8))
    fig = concat_figure(concat, labels, n_heads=4)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), concat)
    assert list(fig.data[0].x)[:3] == ["h0·0", "h0·1", "h1·0"]
    assert [s.x0 for s in fig.layout.shapes] == [1.5, 3.5, 5.5]  # a line between each pair of heads

    div = np.array([[0.0, 0.2], [0.2, 0.0]])
    fig = divergence_figure(div)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), div)
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == pytest.approx(0.2) and list(fig.data[0].x) == ["head 0", "head 1"]


def test_shape_rows_report_the_given_shapes():
    shapes = {"x": (1, 5, 8), "q": (1, 2, 5, 4), "k": (1, 2, 5, 4), "v": (1, 2, 5, 4), "weights": (1, 2, 5, 5),
              "heads_out": (1, 2, 5, 4), "concat": (1, 5, 8), "out": (1, 5, 8)}
    rows = shape_rows(shapes)
    assert [r["step"] for r in rows] == [s[1] for s in SHAPE_STEPS]
    assert rows[4]["here"] == "(1, 2, 5, 5)" and rows[4]["shape"] == "(B, H, T, T)"
    assert rows[-1]["here"] == "(1, 5, 8)"


def test_heatmap_grid_per_panel_scale_handles_signs_zeros_and_gaps():
    stack = np.array([[[-2.0, 1.0], [0.5, np.nan]], [[0.0, 0.0], [0.0, 0.0]]])  # (P=2, 2, 2)
    fig = heatmap_grid(stack, ["a", "b"], ["c", "d"], ["p0", "p1"], "t", shared_scale=False)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), stack[0] / 2.0)  # ÷ max |value|
    np.testing.assert_allclose(np.asarray(fig.data[1].z, dtype=float), stack[1])  # all zero: left as is
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)
    assert fig.data[0].colorbar.title.text == "weight ÷ panel max |value|"


def test_small_multiple_helpers():
    assert symmetric_range(np.array([[-0.5, 2.0], [np.nan, -np.inf]])) == (-2.0, 2.0)
    assert symmetric_range(np.zeros((2, 2))) == (-1.0, 1.0)
    labels = [f"{i}·t" for i in range(5)]
    fig = every_label(heatmap(np.eye(5), labels, labels, "t"))
    assert fig.layout.xaxis.dtick == 1 and fig.layout.yaxis.dtick == 1
    many = [f"{i}" for i in range(20)]
    assert every_label(heatmap(np.eye(20), many, many, "t")).layout.xaxis.dtick is None
    fig = block_separators(heatmap(np.zeros((2, 6)), [str(i) for i in range(6)], ["a", "b"], "t"), 2, 3)
    assert [s.x0 for s in fig.layout.shapes] == [1.5, 3.5]
    grid = first_column_labels_only(heatmap_grid(np.random.rand(6, 3, 3), labels[:3], labels[:3],
                                                 [str(i) for i in range(6)], "t", cols=4), 6, 4)
    assert [grid.layout[f"yaxis{p}"].showticklabels for p in range(1, 7)] == [True, False, False, False, True, False]
