"""The four efficiency pages (AppTest): the numbers in their charts are the core's, measurements sit behind buttons
and are cached, the memory guard's refusals are shown inline, and bad settings get a message, not a traceback."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from core.attention import naive_attention
from core.efficient import INFO, VARIANTS, VariantParams, relative_error, variant_attention, variant_inputs
from core.kernels import flash_attention as flash_kernel
from core.measure.kv_cache_math import real_cache_bytes, sharing_comparison
from core.measure.memory import (
    MIB,
    naive_attention_traffic,
    predicted_naive_peak_bytes,
    predicted_tiled_peak_bytes,
    tiled_attention_traffic,
)
from core.measure.memory_guard import check_attention_memory, effective_budget_bytes
from core.tiled import tiled_attention_reference, trace_tiled_attention
from figures.flash import revealed_scores
from tests.apptest_utils import ROOT, chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as values
from ui.flash_kernel import METHODS, timing_rows
from ui.measure import Measurement

QUADRATIC = "pages/efficiency/quadratic_memory.py"
FLASH = "pages/efficiency/flash_attention.py"
VARIANTS_PAGE = "pages/efficiency/efficient_variants.py"
KV = "pages/efficiency/kv_cache.py"


def chart(at, title_start: str) -> dict:
    found = [s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(title_start)]
    assert len(found) == 1, (title_start, [s["layout"]["title"]["text"] for s in chart_specs(at)])
    return found[0]


def trace_named(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def assert_ok(at) -> None:
    assert not at.exception, error_messages(at)


def texts(at) -> str:
    return "\n".join(e.value for kind in ("markdown", "caption", "warning", "info", "success") for e in at.get(kind))


@pytest.fixture
def quick_measurements(monkeypatch):
    """One timed call per point: these tests check the plumbing, not the timings."""
    monkeypatch.setattr("ui.measure.MAX_REPEATS", 1)


# ------------------------------------------------------------------ quadratic_memory


def test_quadratic_memory_draws_the_core_predictions_before_any_measurement():
    at = open_page(QUADRATIC)
    assert_ok(at)
    spec = chart(at, "Peak memory of one call vs n")
    ns = [128, 256, 512, 1024]
    naive = trace_named(spec, "naive (ours): predicted")
    assert list(values(naive["x"])) == ns
    np.testing.assert_allclose(values(naive["y"]), [predicted_naive_peak_bytes(1, 4, n, n, 64) / MIB for n in ns])
    tiled = trace_named(spec, "tiled (ours): predicted")
    np.testing.assert_allclose(values(tiled["y"]), [predicted_tiled_peak_bytes(1, 4, n, n, 64) / MIB for n in ns])
    budget = values(trace_named(spec, "memory budget")["y"])[0]
    assert budget == pytest.approx(effective_budget_bytes(2**30, "cpu") / MIB, rel=0.05)
    assert not any(s["layout"]["title"]["text"].startswith("Time per call") for s in chart_specs(at))
    assert "Press **Measure**" in texts(at)
    terms = chart(at, "Predicted peak by tensor at n = 1,024")
    naive_total = sum(values(t["x"])[0] for t in terms["data"] if t["legendgroup"] == "naive")
    assert naive_total == pytest.approx(predicted_naive_peak_bytes(1, 4, 1024, 1024, 64) / MIB)


def test_quadratic_memory_shows_the_guards_refusal_inline():
    at = open_page(QUADRATIC, settings_memory_budget_mib=64)
    at.select_slider(key="quadratic_memory_n").set_value(4096).run()
    assert_ok(at)
    expected = check_attention_memory(1, 4, 2048, 2048, 64, method="naive", budget_bytes=64 * MIB, device="cpu")
    assert not expected.allowed
    warnings = [w.value for w in at.warning]
    assert any(expected.message in w and "n ≥ 2,048" in w for w in warnings), warnings


def test_quadratic_memory_measures_behind_the_button_once_per_point(quick_measurements):
    at = open_page(QUADRATIC)
    at.select_slider(key="quadratic_memory_n").set_value(256).run()
    at.button(key="quadratic_memory_measure").click().run()
    assert_ok(at)
    spec = chart(at, "Peak memory of one call vs n")
    naive = values(trace_named(spec, "naive (ours): measured")["y"])
    predicted = np.array([predicted_naive_peak_bytes(1, 4, n, n, 64) / MIB for n in (128, 256)])
    assert np.all((naive > 0.5 * predicted) & (naive < 1.5 * predicted)), (naive, predicted)
    timing = chart(at, "Time per call vs n")
    first = {t["name"]: list(values(t["y"])) for t in timing["data"]}
    assert {"naive (ours)", "tiled (ours)", "torch SDPA (reference)"} <= set(first)
    assert len(at.dataframe[0].value) == 6  # 2 lengths × 3 methods
    at.button(key="quadratic_memory_measure").click().run()  # the same points again: served from the cache
    again = {t["name"]: list(values(t["y"])) for t in chart(at, "Time per call vs n")["data"]}
    assert again == first
    at.select_slider(key="quadratic_memory_heads").set_value(2).run()  # another shape: not measured yet
    assert not any(s["layout"]["title"]["text"].startswith("Time per call") for s in chart_specs(at))


# ------------------------------------------------------------------ flash_attention


def flash_trace(n=12, d=4, block=4, causal=False, seed=0):
    q, k, v = (torch.randn(n, d, generator=torch.Generator().manual_seed(seed + i)) for i in range(3))
    return trace_tiled_attention(q, k, v, causal=causal, block_q=block, block_k=block), (q, k, v)


def test_flash_attention_grid_and_tile_figures_are_the_traces_numbers():
    at = open_page(FLASH)
    assert_ok(at)
    trace, _ = flash_trace()
    grid = chart(at, "Score matrix, tile by tile")
    assert "step 1 of 9" in grid["layout"]["title"]["text"]
    np.testing.assert_allclose(values(grid["data"][0]["z"]), revealed_scores(trace, 0, 12, 12), rtol=1e-5, atol=1e-6)
    tile = chart(at, "Tile scores")
    np.testing.assert_allclose(values(tile["data"][0]["z"]), trace.steps[0].scores.numpy(), rtol=1e-5, atol=1e-6)
    stats = chart(at, "Online softmax state of this block")
    after_m = next(t for t in stats["data"] if t["name"] == "after the tile" and t["yaxis"] == "y")
    np.testing.assert_allclose(values(after_m["y"]), trace.steps[0].m_after.numpy(), rtol=1e-5, atol=1e-6)


def test_flash_attention_stepper_moves_and_ends_equal_to_naive_attention():
    at = open_page(FLASH)
    at.button(key="flash_attention_next").click().run()
    assert "step 2 of 9" in chart(at, "Score matrix, tile by tile")["layout"]["title"]["text"]
    at.button(key="flash_attention_prev").click().run()
    at.button(key="flash_attention_prev").click().run()  # clamps at the first step
    assert "step 1 of 9" in chart(at, "Score matrix, tile by tile")["layout"]["title"]["text"]
    at.slider(key="flash_attention_step").set_value(9).run()
    assert_ok(at)
    trace, (q, k, v) = flash_trace()
    diff = float((trace.output - naive_attention(q, k, v)).abs().max())
    done = [s.value for s in at.success]
    assert done and f"{diff:.2e}" in done[0] and diff < 1e-5
    grid = chart(at, "Score matrix, tile by tile")
    np.testing.assert_allclose(values(grid["data"][0]["z"]), (q @ k.T).numpy() * trace.scale, rtol=1e-5, atol=1e-6)


def test_flash_attention_play_advances_and_pause_stops():
    at = open_page(FLASH)
    at.button(key="flash_attention_play").click().run()
    assert_ok(at)
    assert "step 2 of 9" in chart(at, "Score matrix, tile by tile")["layout"]["title"]["text"]
    assert at.button(key="flash_attention_play").label.startswith("⏸")
    at.button(key="flash_attention_play").click().run()
    assert at.button(key="flash_attention_play").label.startswith("▶")


def test_flash_attention_causal_mode_shades_skipped_tiles():
    at = open_page(FLASH)
    at.toggle(key="flash_attention_causal").set_value(True).run()
    assert_ok(at)
    trace, _ = flash_trace(causal=True)
    shapes = chart(at, "Score matrix, tile by tile")["layout"]["shapes"]
    shaded = sum(s["fillcolor"] != "rgba(0,0,0,0)" for s in shapes[:-1])
    assert shaded == sum(s.skipped for s in trace.steps) == 3
    assert "3 skipped by the causal mask" in texts(at)
    at.slider(key="flash_attention_step").set_value(2).run()  # tile q0–3 × k4–7 lies in the future
    assert "Tile skipped" in texts(at)


def test_flash_attention_io_bars_are_the_core_traffic():
    at = open_page(FLASH)
    spec = chart(at, "Naive moves")
    totals: dict[str, float] = {}
    for bar in spec["data"]:
        for x, y in zip(bar["x"], values(bar["y"]), strict=True):
            totals[x] = totals.get(x, 0.0) + y
    naive = naive_attention_traffic(1, 1, 4096, 4096, 64)
    tiled = tiled_attention_traffic(1, 1, 4096, 4096, 64, block_q=128, block_k=128)
    assert totals["naive: read"] == pytest.approx(naive.read_bytes / MIB)
    assert totals["tiled: read"] == pytest.approx(tiled.read_bytes / MIB)
    assert totals["tiled: written"] == pytest.approx(tiled.written_bytes / MIB)
    ratio = naive.total_bytes / tiled.total_bytes
    assert f"{ratio:.1f}×" in spec["layout"]["title"]["text"]


def test_flash_attention_blocks_follow_a_shrinking_n():
    at = open_page(FLASH)
    at.slider(key="flash_attention_block_q").set_value(12).run()
    at.slider(key="flash_attention_n").set_value(2).run()
    assert_ok(at)
    assert at.slider(key="flash_attention_block_q").value <= 2


def test_flash_attention_kernel_section_shows_the_real_sources():
    at = open_page(FLASH)
    assert_ok(at)
    codes = [c.value for c in at.code]
    kernel_file = (ROOT / "core" / "kernels" / "flash_attention.py").read_text(encoding="utf-8")
    kernel_blocks = [c for c in codes if "def _flash_forward(" in c]
    assert len(kernel_blocks) == 1 and kernel_blocks[0].strip() in kernel_file  # a verbatim excerpt of the file
    for step in ("m_new = tl.maximum(m, tl.max(s, 1))", "l = rescale * l + tl.sum(p, 1)", "acc = rescale[:, None] * acc"):
        assert step in kernel_blocks[0]
    tiled_file = (ROOT / "core" / "tiled.py").read_text(encoding="utf-8")
    loop_blocks = [c for c in codes if "def online_softmax_step(" in c and "def _attend_one_head(" in c]
    assert len(loop_blocks) == 1
    assert all(part.strip() in tiled_file for part in loop_blocks[0].split("\n\n\ndef "))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU message: this machine has a GPU")
def test_flash_attention_on_cpu_says_the_kernel_needs_a_gpu_and_runs_the_interpreter():
    at = open_page(FLASH)
    assert_ok(at)
    assert any("The kernel needs a GPU" in i.value for i in at.info)
    if not flash_kernel.triton_available():
        assert any("Triton is not installed" in w.value for w in at.warning)
        return
    q, k, v = (torch.randn(12, 4, generator=torch.Generator().manual_seed(i))[None, None] for i in range(3))
    out = flash_kernel.flash_attention(q, k, v, block_m=16, block_n=16)  # the page's default inputs, seed 0
    diff = float((out - tiled_attention_reference(q, k, v, block_q=16, block_k=16)).abs().max())
    shown = [s.value for s in at.success if "interpreter" in s.value]
    assert len(shown) == 1 and f"{diff:.2e}" in shown[0] and "n = 12, d = 4" in shown[0]
    assert float(re.search(r"\*\*([0-9.e+-]+)\*\*", shown[0]).group(1)) < 1e-5


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU message: this machine has a GPU")
def test_flash_attention_without_triton_says_so_plainly(monkeypatch):
    monkeypatch.setattr(flash_kernel, "triton_available", lambda: False)
    at = open_page(FLASH)
    assert_ok(at)
    assert any("The kernel needs a GPU" in i.value for i in at.info)
    assert any("Triton is not installed" in w.value for w in at.warning)
    assert not [s for s in at.success if "interpreter" in s.value]
    assert any("def _flash_forward(" in c.value for c in at.code)  # the source is shown all the same


def test_kernel_timing_rows_are_relative_to_sdpa():
    results = {"sdpa": {1024: Measurement(0.002, 4 * MIB, 5)}, "triton": {1024: Measurement(0.003, 2 * MIB, 5)},
               "tiled": {2048: Measurement(0.1, 8 * MIB, 5)}}
    rows = timing_rows(results, 1024)
    assert [r["method"] for r in rows] == [METHODS["triton"], METHODS["sdpa"]]  # no tiled point at n = 1024
    assert rows[0]["time / SDPA"] == pytest.approx(1.5) and rows[0]["peak / SDPA"] == pytest.approx(0.5)
    assert rows[0]["time (ms)"] == pytest.approx(3.0) and rows[0]["peak (MiB)"] == pytest.approx(2.0)


@pytest.mark.cuda
def test_flash_attention_measures_kernel_sdpa_and_loop_on_a_gpu(quick_measurements):
    at = open_page(FLASH)
    at.select_slider(key="flash_attention_kernel_n").set_value(1024).run()
    at.button(key="flash_attention_kernel_measure").click().run()
    assert_ok(at)
    table = at.dataframe[-1].value
    assert list(table["method"]) == list(METHODS.values())
    assert (table["time (ms)"] > 0).all() and (table["peak (MiB)"] > 0).all()


# ------------------------------------------------------------------ efficient_variants


def variant_setup(n=32, d=16, kind="local", **params):
    q, k, v = variant_inputs(n, d, kind, torch.Generator().manual_seed(0))
    p = VariantParams(**{"projection": "pool", **params})
    return (q, k, v), p


def test_efficient_variants_maps_and_errors_are_the_cores():
    at = open_page(VARIANTS_PAGE)
    assert_ok(at)
    (q, k, v), p = variant_setup()
    result = variant_attention("sliding_window", q, k, v, p)
    full = variant_attention("full", q, k, v, p)
    z = values(chart(at, "Sliding window")["data"][0]["z"])
    mask = result.mask.numpy()
    np.testing.assert_allclose(z[mask], result.weights.numpy()[mask], rtol=1e-5, atol=1e-6)
    assert np.isnan(z[~mask]).all()
    np.testing.assert_allclose(values(chart(at, "Full attention")["data"][0]["z"]), full.weights.numpy(), rtol=1e-5, atol=1e-6)
    drawn = {y: x for bar in chart(at, "Output error vs full attention")["data"]
             for y, x in zip(bar["y"], values(bar["x"]), strict=True)}
    for name in VARIANTS[1:]:
        expected = relative_error(variant_attention(name, q, k, v, p).output, full.output)
        assert drawn[INFO[name].label] == pytest.approx(expected, rel=1e-5), name
    table = at.dataframe[0].value
    assert set(table["exact or approximate"]) == {
        "exact softmax attention, different (sparse) mask → ≈ full attention", "approximates softmax attention itself"}


@pytest.mark.parametrize("name", VARIANTS[1:])
def test_efficient_variants_every_variant_draws_its_pattern(name):
    at = open_page(VARIANTS_PAGE)
    at.selectbox(key="efficient_variants_variant").select(f"{INFO[name].label} — {INFO[name].paper}").run()
    assert_ok(at)
    (q, k, v), p = variant_setup()
    result = variant_attention(name, q, k, v, p)
    z = values(chart(at, INFO[name].label)["data"][0]["z"])
    shown = ~np.isnan(z)
    np.testing.assert_allclose(z[shown], result.weights.numpy()[shown], rtol=1e-5, atol=1e-7)
    assert f"{relative_error(result.output, variant_attention('full', q, k, v, p).output):.2e}" in texts(at)


def test_efficient_variants_causal_linformer_gets_a_message():
    at = open_page(VARIANTS_PAGE)
    at.toggle(key="efficient_variants_causal").set_value(True).run()
    at.selectbox(key="efficient_variants_variant").select(f"{INFO['linformer'].label} — {INFO['linformer'].paper}").run()
    assert_ok(at)
    assert any("no causal form" in w.value for w in at.warning)
    labels = {y for bar in chart(at, "Output error vs full attention")["data"] for y in bar["y"]}
    assert INFO["linformer"].label not in labels and INFO["linear"].label in labels


def test_efficient_variants_cost_is_measured_behind_the_button(quick_measurements):
    at = open_page(VARIANTS_PAGE)
    assert "Press **Measure**" in texts(at)
    at.button(key="efficient_variants_measure").click().run()
    assert_ok(at)
    spec = chart(at, "Time per call vs n")
    lines = {t["name"]: t for t in spec["data"]}
    assert {INFO[v].label for v in VARIANTS} <= set(lines)
    assert list(values(lines[INFO["linear"].label]["x"])) == [256, 512, 1024, 2048]
    peaks = {t["name"]: values(t["y"]) for t in chart(at, "Peak memory of one call vs n")["data"]}
    full, window = peaks[INFO["full"].label], peaks[INFO["sliding_window"].label]
    assert full[-1] / full[0] > 30  # n × 8: the (n, n) scores grow ×64
    assert window[-1] / window[0] < 16  # the window's grow about ×8


# ------------------------------------------------------------------ kv_cache


def test_kv_cache_formula_equals_real_tensor_bytes_on_the_page():
    at = open_page(KV)
    assert_ok(at)
    check = real_cache_bytes(2, 4, 2, 16, 48, 1, torch.float32)
    assert check.real_bytes == check.formula_bytes
    spec = chart(at, "KV cache as decoding proceeds")
    real = trace_named(spec, "real tensors: Σ element_size · numel")
    np.testing.assert_allclose(values(real["y"]), np.array(check.real_bytes) / 1024)
    assert f"{check.formula_bytes[-1]:,} bytes" in texts(at) and "✅ equal" in texts(at)
    at.selectbox(key="kv_cache_dtype").select("float16").run()
    half = values(trace_named(chart(at, "KV cache as decoding proceeds"), "real tensors: Σ element_size · numel")["y"])
    np.testing.assert_allclose(half, np.array(check.real_bytes) / 2048)


def test_kv_cache_presets_fill_the_calculator_and_the_bars_are_the_cores():
    at = open_page(KV)
    bars = chart(at, "KV cache of Llama-2-7B")["data"][0]
    expected = sharing_comparison(32, 32, 32, 128, 4096, 1, 2)
    assert list(bars["x"]) == list(expected)
    np.testing.assert_allclose(values(bars["y"]), np.array(list(expected.values())) / 2**30)
    at.selectbox(key="kv_cache_preset").select("Llama-2-70B").run()
    assert_ok(at)
    assert at.number_input(key="kv_cache_calc_layers").value == 80
    assert at.number_input(key="kv_cache_calc_kv_heads").value == 8
    expected = sharing_comparison(80, 64, 8, 128, 4096, 1, 2)
    np.testing.assert_allclose(values(chart(at, "KV cache of Llama-2-70B")["data"][0]["y"]),
                               np.array(list(expected.values())) / 2**30)


def test_kv_cache_rolling_buffer_caps_mistral_at_its_window():
    at = open_page(KV)
    at.selectbox(key="kv_cache_preset").select("Mistral-7B").run()
    at.toggle(key="kv_cache_calc_rolling").set_value(True).run()
    assert_ok(at)
    spec = chart(at, "KV cache of Mistral-7B")
    assert "4,096 cached tokens" in spec["layout"]["title"]["text"]
    np.testing.assert_allclose(values(spec["data"][0]["y"]),
                               np.array(list(sharing_comparison(32, 32, 8, 128, 4096).values())) / 2**30)


def test_kv_cache_heads_that_do_not_divide_get_a_message():
    at = open_page(KV)
    at.number_input(key="kv_cache_calc_kv_heads").set_value(5).run()
    assert_ok(at)
    assert any("cannot be shared equally" in w.value for w in at.warning)
    assert re.search(r"KV cache of", " ".join(s["layout"]["title"]["text"] for s in chart_specs(at))) is None


def test_kv_cache_decode_timing_is_behind_the_button_and_tokens_match():
    at = open_page(KV)
    assert "Press **Measure decoding**" in texts(at)
    at.select_slider(key="kv_cache_prompt").set_value(32).run()
    at.select_slider(key="kv_cache_new").set_value(8).run()
    at.button(key="kv_cache_measure").click().run()
    assert_ok(at)
    spec = chart(at, "Time per generated token")
    assert [t["name"] for t in spec["data"]] == ["with KV cache", "without cache (recompute all)"]
    assert all(len(values(t["y"])) == 8 for t in spec["data"])
    assert "Same tokens generated: ✅ yes" in texts(at)
    at.run()  # a rerun keeps the measured figure (cached), no second measurement needed
    assert chart(at, "Time per generated token")["data"] == spec["data"]
