"""figures.positional / block / vit / layout: every figure carries the numbers it was given, with titles, axis titles
and colour bars; image figures put each patch where the core says it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lab.permutation import permutation_study, position_score_grid, relative_bias_example
from core.positional import alibi_bias, alibi_slopes, sinusoidal_encoding
from core.vit import patchify
from figures.block import (
    activation_figure,
    count_bars,
    depth_figure,
    norm_stats_figure,
    residual_steps_figure,
    shape_text,
)
from figures.export import figure_image
from figures.layout import panel_axes, panels_layout
from figures.positional import (
    alibi_grid,
    bucket_curve,
    bucket_map,
    encoding_heatmap,
    permutation_bars,
    relative_bias_grid,
    rope_plane_figure,
    score_grid_heatmap,
    score_vs_offset,
    similarity_heatmap,
)
from figures.vit import image_with_grid, patch_strip, to_uint8


def title(fig) -> str:
    return fig.layout.title.text


def test_encoding_heatmap_shows_the_table():
    table = sinusoidal_encoding(10, 8)
    fig = encoding_heatmap(table, "PE")
    (trace,) = fig.data
    np.testing.assert_allclose(np.asarray(trace.z), table.numpy(), rtol=1e-6)
    assert list(trace.x) == [f"d{i}" for i in range(8)] and list(trace.y) == [str(i) for i in range(10)]
    assert trace.colorbar.title.text == "PE value" and (trace.zmin, trace.zmax) == (-1, 1)
    assert fig.layout.xaxis.title.text == "dimension" and title(fig) == "PE"


def test_similarity_heatmap_and_score_grid_are_labelled_heatmaps():
    sim = np.eye(4)
    fig = similarity_heatmap(sim, "learned")
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), sim)
    assert fig.data[0].colorbar.title.text == "cosine"
    grid = position_score_grid(torch.ones(4), torch.ones(4), 5, "rope")
    fig = score_grid_heatmap(grid, "rope grid")
    np.testing.assert_allclose(np.asarray(fig.data[0].z), grid.numpy(), rtol=1e-6)
    assert fig.layout.yaxis.title.text == "query position m"


def test_score_vs_offset_reindexes_rows_by_offset():
    grid = np.arange(16.0).reshape(4, 4)
    fig = score_vs_offset(grid, [0, 2], "t")
    assert [t.name for t in fig.data] == ["from position m=0", "from position m=2"]
    np.testing.assert_array_equal(fig.data[1].x, [-2, -1, 0, 1])
    np.testing.assert_array_equal(fig.data[1].y, grid[2])
    assert fig.layout.xaxis.title.text == "offset n − m"


def test_rope_plane_draws_q_and_k_at_their_positions():
    q_path, k_path = np.random.rand(6, 2), np.random.rand(6, 2)
    fig = rope_plane_figure(q_path, k_path, m=2, n=4, pair=1)
    arrows = {t.name: t for t in fig.data if t.mode == "lines+markers"}
    np.testing.assert_allclose(arrows["q at m=2"].x, [0, q_path[2, 0]])
    np.testing.assert_allclose(arrows["k at n=4"].y, [0, k_path[4, 1]])
    assert "plane 1" in title(fig) and fig.layout.yaxis.scaleanchor == "x"


def test_alibi_grid_has_one_panel_per_head_titled_with_its_slope():
    bias, slopes = alibi_bias(4, 5, 5), alibi_slopes(4).tolist()
    fig = alibi_grid(bias, slopes)
    assert len(fig.data) == 4
    for h, trace in enumerate(fig.data):
        np.testing.assert_allclose(np.asarray(trace.z), bias[h].numpy(), rtol=1e-6)
    panel_titles = [a.text for a in fig.layout.annotations]
    assert panel_titles == [f"head {h} · slope {s:.4g}" for h, s in enumerate(slopes)]


def test_bucket_curve():
    fig = bucket_curve(np.arange(-3, 4), np.array([3, 2, 1, 0, 5, 6, 7]), 8, 16)
    np.testing.assert_array_equal(fig.data[0].y, [3, 2, 1, 0, 5, 6, 7])
    assert "8 buckets" in title(fig)


def test_permutation_bars_carry_the_core_deviations():
    results = permutation_study("a b c d".split(), seed=0)
    deviations = {mode: r.deviation.numpy() for mode, r in results.items()}
    fig = permutation_bars(deviations, ["0·a", "1·b", "2·c", "3·d"])
    assert [t.name for t in fig.data] == list(deviations)
    for trace in fig.data:
        np.testing.assert_allclose(trace.y, deviations[trace.name], rtol=1e-6)
    assert fig.layout.barmode == "group" and fig.layout.yaxis.title.text.startswith("max |out(PX)")


def test_block_figures_carry_their_numbers():
    fig = residual_steps_figure(["input x", "add: x + update", "LayerNorm (after FFN)"], ["(1, 2, 4)"] * 3,
                                [1.0, 2.0, 1.0], "walk")
    np.testing.assert_array_equal(fig.data[0].y, [1.0, 2.0, 1.0])
    assert list(fig.data[0].text) == ["(1, 2, 4)"] * 3 and shape_text((1, 2, 4)) == "(1, 2, 4)"
    assert list(fig.data[0].x) == ["0·input x", "1·add: x + update", "2·LayerNorm (after FFN)"]

    stats = {"input": (np.array([1.0, 2.0]), np.array([3.0, 4.0])), "LayerNorm": (np.zeros(2), np.ones(2))}
    fig = norm_stats_figure(stats, ["t0", "t1"])
    by_panel = {(t.name, t.xaxis): t for t in fig.data}
    np.testing.assert_array_equal(by_panel[("input", "x")].y, [1.0, 2.0])  # means, left panel
    np.testing.assert_array_equal(by_panel[("input", "x2")].y, [3.0, 4.0])  # stds, right panel
    assert [a.text for a in fig.layout.annotations] == ["per-token mean", "per-token std"]

    xs = np.linspace(-1, 1, 5)
    fig = activation_figure(xs, {"ReLU": np.maximum(xs, 0)})
    np.testing.assert_array_equal(fig.data[0].y, np.maximum(xs, 0))

    fig = count_bars({"w_q": 10, "w_k": 30}, "params")
    assert list(fig.data[0].x) == [10, 30] and list(fig.data[0].y) == ["w_q", "w_k"]
    np.testing.assert_allclose(fig.data[0].customdata, [25.0, 75.0])

    fig = depth_figure({"post-LN": (np.ones(4), np.array([1.0, 2.0, 3.0]))})
    np.testing.assert_array_equal(fig.data[0].x, [0, 1, 2, 3])
    np.testing.assert_array_equal(fig.data[1].x, [1, 2, 3])
    assert fig.data[1].yaxis == "y2"


def test_panels_layout_splits_the_width():
    layout = panels_layout("t", ["a", "b", "c"], ["x"] * 3, ["y"] * 3, gap=0.1)
    assert layout["xaxis"]["domain"][0] == 0 and layout["xaxis3"]["domain"][1] == pytest.approx(1)
    assert layout["yaxis2"]["anchor"] == "x2" and panel_axes(2) == ("x3", "y3")


def _picture(size: int) -> np.ndarray:
    """An RGB test picture ``(size, size, 3)`` in [0, 1]: every pixel different."""
    y, x = np.mgrid[0:size, 0:size] / size
    return np.stack([x, y, 1 - x * y], axis=-1).astype(np.float32)


def test_image_with_grid_indexes_patches_in_raster_order():
    image = _picture(32)
    fig = image_with_grid(image, 8, "grid")
    picture, index = fig.data
    assert picture.type == "image" and np.asarray(picture.z).shape == (32, 32, 3)
    np.testing.assert_array_equal(np.asarray(index.z), np.arange(16).reshape(4, 4))
    np.testing.assert_array_equal(index.x, [4, 12, 20, 28])  # patch centres in pixels
    assert len(fig.layout.shapes) == 6  # 3 inner lines each way


def test_patch_strip_places_each_patch_in_sequence_order():
    image = _picture(24)
    patches = patchify(torch.from_numpy(image).permute(2, 0, 1)[None], 6)[0]  # (16, 3·6·6)
    fig = patch_strip(image, 6, per_row=5, gap=2)
    canvas = np.asarray(fig.data[0].z)
    assert canvas.shape == (4 * 8 - 2, 5 * 8 - 2, 3)
    pixels = to_uint8(image)
    for k in (0, 4, 5, 15):
        line, slot = divmod(k, 5)
        r, c = divmod(k, 4)
        block = canvas[line * 8 : line * 8 + 6, slot * 8 : slot * 8 + 6]
        np.testing.assert_array_equal(block, pixels[r * 6 : r * 6 + 6, c * 6 : c * 6 + 6])
    assert patches.shape[0] == 16
    assert list(fig.data[2].text) == [f"p{k}" for k in range(16)] and fig.data[2].x[5] == 0 and fig.data[2].y[5] == 8


@pytest.mark.parametrize("make", [
    lambda: image_with_grid(_picture(32), 8, "g"),
    lambda: patch_strip(_picture(32), 8),
    lambda: depth_figure({"a": (np.ones(3), np.ones(2))}),
    lambda: permutation_bars({"none": np.zeros(3)}, ["a", "b", "c"]),
])
def test_figures_export_to_png(make):
    assert figure_image(make(), "png")[:4] == b"\x89PNG"


def test_t5_figures_show_buckets_and_bias():
    ids, bias = relative_bias_example(8, 16, True, seed=0, length=5, n_heads=3)
    fig = bucket_map(ids)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), ids.numpy())
    assert fig.data[0].colorbar.title.text == "bucket"
    fig = relative_bias_grid(bias)
    assert len(fig.data) == 3 and "untrained" in title(fig)
    np.testing.assert_allclose(np.asarray(fig.data[2].z), bias[2].numpy(), rtol=1e-6)


def test_score_grid_colour_scale_is_centred_on_zero():
    fig = score_grid_heatmap(np.array([[1.0, -3.0], [2.0, 0.5]]), "t")
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-3.0, 3.0)
