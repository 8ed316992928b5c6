"""Efficiency figures (figures/memory.py, flash.py, efficient.py, kv_cache.py): the numbers drawn are the core's.

Each test builds a figure from a core result and reads the values back out of the Plotly traces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.efficient import INFO, VariantParams, relative_error, variant_attention, variant_inputs
from core.measure.kv_cache_math import CacheCheck, real_cache_bytes, sharing_comparison
from core.measure.memory import (
    naive_attention_traffic,
    naive_memory_terms,
    predicted_naive_peak_bytes,
    predicted_tiled_peak_bytes,
    tiled_attention_traffic,
    tiled_memory_terms,
)
from core.tiled import trace_tiled_attention
from figures.efficient import cost_figure, error_figure, pattern_figure, peak_figure
from figures.flash import (
    io_bars_figure,
    io_vs_n_figure,
    partial_output_figure,
    revealed_scores,
    running_stats_figure,
    tile_grid_figure,
    tile_scores_figure,
)
from figures.kv_cache import cache_growth_figure, decode_time_figure, human_bytes, sharing_figure
from figures.memory import MIB, memory_terms_figure, peak_memory_figure, time_figure

NS = [128, 256, 512, 1024]


def values(trace, axis: str) -> np.ndarray:
    return np.asarray(trace[axis], dtype=float)


def assert_labelled(fig) -> None:
    """A title, and axis titles on every axis that has data."""
    layout = fig.layout
    assert layout.title.text
    assert layout.xaxis.title.text or layout.yaxis.title.text


# ------------------------------------------------------------------ figures/memory.py


def test_peak_memory_figure_draws_core_predictions_measurements_and_budget():
    predicted = {"naive": [predicted_naive_peak_bytes(1, 4, n, n, 64) for n in NS],
                 "tiled": [predicted_tiled_peak_bytes(1, 4, n, n, 64) for n in NS]}
    measured = {"sdpa": {128: 3 * MIB, 512: 5 * MIB}}
    fig = peak_memory_figure(NS, predicted, measured, budget_bytes=64 * MIB, title="t")
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_allclose(values(by_name["naive (ours): predicted"], "y"), np.array(predicted["naive"]) / MIB)
    np.testing.assert_allclose(values(by_name["tiled (ours): predicted"], "y"), np.array(predicted["tiled"]) / MIB)
    np.testing.assert_allclose(values(by_name["torch SDPA (reference): measured"], "y"), [3, 5])
    assert list(by_name["memory budget"].y) == [64, 64]
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert_labelled(fig)


def test_time_figure_has_an_n_squared_guide_through_the_first_point():
    fig = time_figure({"naive": {128: 0.001, 256: 0.004}, "tiled": {128: 0.002, 256: 0.003}}, title="t")
    guide = next(t for t in fig.data if "guide" in t.name)
    np.testing.assert_allclose(values(guide, "y"), [1.0, 4.0])  # ms, ∝ n² from (128, 1 ms)
    assert_labelled(fig)


def test_memory_terms_figure_stacks_to_the_predicted_peak():
    terms = {"naive": naive_memory_terms(1, 4, 512, 512, 64), "tiled": tiled_memory_terms(1, 4, 512, 512, 64)}
    fig = memory_terms_figure(terms, title="t")
    naive = sum(t.x[0] for t in fig.data if t.legendgroup == "naive")
    assert math.isclose(naive, predicted_naive_peak_bytes(1, 4, 512, 512, 64) / MIB)
    tiled = sum(t.x[0] for t in fig.data if t.legendgroup == "tiled")
    assert math.isclose(tiled, predicted_tiled_peak_bytes(1, 4, 512, 512, 64) / MIB)


# ------------------------------------------------------------------ figures/flash.py


@pytest.fixture
def trace_and_inputs():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(10, 4, generator=gen) for _ in range(3))
    return trace_tiled_attention(q, k, v, causal=True, block_q=3, block_k=4), (q, k, v)


def test_revealed_scores_after_the_last_step_are_the_masked_score_matrix(trace_and_inputs):
    trace, (q, k, _) = trace_and_inputs
    scores = (q @ k.T).double().numpy() * trace.scale
    future = np.triu(np.ones((10, 10), dtype=bool), 1)
    revealed = revealed_scores(trace, len(trace.steps) - 1, 10, 10)
    np.testing.assert_allclose(revealed[~future], scores[~future], rtol=1e-5, atol=1e-6)
    assert np.all(np.isneginf(revealed[future]) | np.isnan(revealed[future]))  # masked or skipped, never a value
    assert np.isnan(revealed_scores(trace, 0, 10, 10)[3:]).all()  # after step 1 only the first tile is filled


def test_tile_grid_outlines_every_tile_shades_skipped_ones_and_marks_the_current(trace_and_inputs):
    trace, _ = trace_and_inputs
    fig = tile_grid_figure(trace, 2, [f"q{i}" for i in range(10)], [f"k{j}" for j in range(10)], bound=3.0)
    shapes = fig.layout.shapes
    assert len(shapes) == len(trace.steps) + 1
    shaded = sum(s.fillcolor != "rgba(0,0,0,0)" for s in shapes[:-1])
    assert shaded == sum(s.skipped for s in trace.steps) > 0
    current = trace.steps[2]
    assert (shapes[-1].x0, shapes[-1].y0) == (current.k_range[0] - 0.5, current.q_range[0] - 0.5)
    assert fig.data[0].colorbar.title.text and fig.layout.xaxis.title.text == "key"


def test_step_figures_show_the_steps_numbers(trace_and_inputs):
    trace, _ = trace_and_inputs
    step = next(s for s in trace.steps[1:] if not s.skipped and s.k_block > 0)
    tile = tile_scores_figure(step, bound=3.0)
    np.testing.assert_allclose(np.nan_to_num(np.asarray(tile.data[0].z, dtype=float), nan=-1e9),
                               np.nan_to_num(np.where(np.isfinite(step.scores.numpy()), step.scores.numpy(), np.nan),
                                             nan=-1e9), rtol=1e-6)
    stats = running_stats_figure(step)
    by_name = {(t.name, t.yaxis): t for t in stats.data}
    np.testing.assert_allclose(values(by_name[("after the tile", "y")], "y"), step.m_after.numpy(), rtol=1e-6)
    np.testing.assert_allclose(values(by_name[("after the tile", "y2")], "y"), step.l_after.numpy(), rtol=1e-6)
    np.testing.assert_allclose(values(by_name[("rescale", "y3")], "y"), step.rescale.numpy(), rtol=1e-6)
    partial = partial_output_figure(step)
    np.testing.assert_allclose(np.asarray(partial.data[0].z, dtype=float), step.partial_output.numpy(), rtol=1e-6)


def test_io_figures_sum_to_the_core_traffic():
    traffic = {"naive": naive_attention_traffic(1, 1, 2048, 2048, 64),
               "tiled": tiled_attention_traffic(1, 1, 2048, 2048, 64, block_q=128, block_k=128)}
    fig = io_bars_figure(traffic, title="t")
    totals: dict[str, float] = {}
    for bar in fig.data:
        for x, y in zip(bar.x, bar.y, strict=True):
            totals[x] = totals.get(x, 0.0) + y
    for method, t in traffic.items():
        assert math.isclose(totals[f"{method}: read"], t.read_bytes / MIB)
        assert math.isclose(totals[f"{method}: written"], t.written_bytes / MIB)
    lines = io_vs_n_figure([512, 1024], {m: [t.total_bytes, 2 * t.total_bytes] for m, t in traffic.items()}, title="t")
    np.testing.assert_allclose(values(lines.data[0], "y"), [traffic["naive"].total_bytes / MIB,
                                                            2 * traffic["naive"].total_bytes / MIB])
    assert_labelled(fig)


# ------------------------------------------------------------------ figures/efficient.py


def test_pattern_figure_shows_the_weights_with_gaps_outside_the_mask():
    q, k, v = variant_inputs(12, 8, "random", torch.Generator().manual_seed(0))
    result = variant_attention("strided", q, k, v, VariantParams(stride=3))
    fig = pattern_figure(result.weights, result.mask, [str(i) for i in range(12)], "t")
    z = np.asarray(fig.data[0].z, dtype=float)
    mask = result.mask.numpy()
    np.testing.assert_allclose(z[mask], result.weights.numpy()[mask], rtol=1e-6)
    assert np.isnan(z[~mask]).all()
    linformer = variant_attention("linformer", q, k, v, VariantParams(proj_k=4, projection="random"))
    diverging = pattern_figure(linformer.weights, None, [str(i) for i in range(12)], "t")
    assert diverging.data[0].zmin == -diverging.data[0].zmax  # negative effective weights: centred scale


def test_error_figure_draws_each_variants_relative_error():
    q, k, v = variant_inputs(16, 8, "local", torch.Generator().manual_seed(0))
    full = variant_attention("full", q, k, v).output
    errors = {n: relative_error(variant_attention(n, q, k, v).output, full) for n in ("sliding_window", "linear")}
    errors["linformer"] = None  # not defined here: left out
    fig = error_figure(errors, title="t")
    drawn = {y: x for bar in fig.data for y, x in zip(bar.y, bar.x, strict=True)}
    assert drawn == {INFO[n].label: e for n, e in errors.items() if e is not None}
    assert {bar.name for bar in fig.data} == {"different mask", "approximates softmax"}


def test_cost_and_peak_figures_name_variants_and_draw_their_numbers():
    fig = cost_figure({"full": {256: 0.01, 512: 0.04}, "linear": {256: 0.001, 512: 0.002}}, title="t")
    assert {t.name for t in fig.data} >= {INFO["full"].label, INFO["linear"].label}
    peaks = peak_figure({"full": {256: 4 * MIB, 512: 16 * MIB}}, title="t")
    np.testing.assert_allclose(values(peaks.data[0], "y"), [4, 16])
    assert peaks.layout.yaxis.type == "log" and peaks.data[0].name == INFO["full"].label


# ------------------------------------------------------------------ figures/kv_cache.py


def test_cache_growth_figure_draws_real_bytes_on_the_formula_line():
    check = real_cache_bytes(2, 4, 2, 8, 12, 1, decode_steps=3)
    fig = cache_growth_figure(check, title="t")
    formula, real = fig.data
    np.testing.assert_allclose(values(real, "y"), np.array(check.real_bytes) / 1024)
    np.testing.assert_allclose(values(formula, "y")[1:], np.array(check.formula_bytes) / 1024)
    assert list(real.x) == check.lengths and formula.x[0] == 0 and formula.y[0] == 0
    assert_labelled(fig)


def test_sharing_figure_bars_are_the_core_sizes():
    sizes = sharing_comparison(32, 32, 8, 128, 4096)
    fig = sharing_figure(sizes, title="t")
    np.testing.assert_allclose(values(fig.data[0], "y"), np.array(list(sizes.values())) / 2**30)
    assert list(fig.data[0].x) == list(sizes) and fig.data[0].text[0] == human_bytes(list(sizes.values())[0])


def test_decode_time_figure_and_human_bytes():
    fig = decode_time_figure({"with KV cache": [0.01, 0.002], "without cache (recompute all)": [0.01, 0.02]}, 64,
                             title="t")
    np.testing.assert_allclose(values(fig.data[1], "y"), [10.0, 20.0])
    assert fig.layout.yaxis.type == "log"
    assert human_bytes(512) == "512 B" and human_bytes(2 * 2**30) == "2.00 GiB"


def test_cache_check_is_plain_data():
    check = CacheCheck([1], [8], [8], (1, 1, 1, 1), "float32")
    assert check.real_bytes == check.formula_bytes
