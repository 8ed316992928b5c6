"""Measure attention methods on the learner's device, each point once.

A point is (device, n, d, heads, dtype, method). :func:`measure_point` is an ``st.cache_data`` function keyed on
exactly those six values, so a point measured once (by anyone on this server) is never measured again: moving a
slider back and forth costs nothing. :func:`run_measurements` measures a list of points behind a progress bar and
keeps the session's results in ``st.session_state`` (what *this* learner has asked for, redrawn on every rerun).

Methods: "naive" (``core.attention.naive_attention``), "tiled" (``core.tiled.tiled_attention``), "sdpa" (PyTorch's
fused ``scaled_dot_product_attention``, the reference), "triton" (``core.kernels.flash_attention``, CUDA) and
"variant:<name>" (``core.efficient`` fast paths with
``core.efficient.sweep_params(n)``). Inputs are ``(1, heads, n, d)`` N(0, 1) tensors, no mask.
:func:`measure_decoding` times generation with and without the KV cache (cached per device and sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import streamlit as st
import torch
import torch.nn.functional as F

from core.attention import naive_attention
from core.efficient import fast_variant_attention, sweep_params
from core.kernels.flash_attention import flash_attention
from core.measure.kv_cache_math import small_decoder, time_generation
from core.measure.memory_meter import measure_peak
from core.measure.timer import Timing, time_call
from core.tiled import tiled_attention

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
TIME_BUDGET_S = 0.5  # timed repeats per point stop after this much time, warm-up included (at least one run)
MAX_REPEATS = 5


@dataclass(frozen=True)
class Point:
    """One measurement: where, what size, which method."""

    device: str
    n: int
    d: int
    heads: int
    dtype: str
    method: str


@dataclass(frozen=True)
class Measurement:
    """Median seconds of ``repeats`` timed calls (``core.measure.timer``) and the peak bytes one call allocates
    (``core.measure.memory_meter``)."""

    seconds: float
    peak_bytes: int
    repeats: int


def dtypes_for(device: torch.device) -> list[str]:
    """float16 only where it is fast (CUDA); bfloat16 and float32 everywhere."""
    return list(DTYPES) if device.type == "cuda" else ["float32", "bfloat16"]


def method_fn(method: str, n: int) -> Callable[..., torch.Tensor]:
    """The function a method name stands for, called as fn(q, k, v)."""
    if method == "naive":
        return naive_attention
    if method == "tiled":
        return tiled_attention
    if method == "sdpa":
        return F.scaled_dot_product_attention
    if method == "triton":
        return flash_attention
    if method.startswith("variant:"):
        return partial(fast_variant_attention, method.removeprefix("variant:"), p=sweep_params(n))
    raise ValueError(f"unknown method {method!r}")


@st.cache_data(max_entries=4096, show_spinner=False)
def measure_point(device: str, n: int, d: int, heads: int, dtype: str, method: str) -> Measurement:
    """Time (the median of up to MAX_REPEATS calls after a warm-up, within TIME_BUDGET_S) and peak memory of one
    method at one size; cached per all six arguments."""
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(n)
    q, k, v = (torch.randn(1, heads, n, d, generator=gen).to(dev, DTYPES[dtype]) for _ in range(3))  # (1, H, n, d)
    fn = method_fn(method, n)
    with torch.no_grad():  # the warm-up call also does the kernels', allocator's and lazy initialisation
        timing = time_call(lambda: fn(q, k, v), dev, repeats=MAX_REPEATS, time_budget_s=TIME_BUDGET_S)
        peak = measure_peak(fn, q, k, v, device=dev).peak_bytes
    return Measurement(timing.median_s, peak, timing.runs)


def _store(name: str) -> dict[Point, Measurement]:
    return st.session_state.setdefault(f"_measured_{name}", {})


def measured(name: str, *, device: str, d: int, heads: int, dtype: str) -> dict[str, dict[int, Measurement]]:
    """This session's results for one (device, d, heads, dtype): {method: {n: Measurement}}."""
    out: dict[str, dict[int, Measurement]] = {}
    for pt, m in _store(name).items():
        if (pt.device, pt.d, pt.heads, pt.dtype) == (device, d, heads, dtype):
            out.setdefault(pt.method, {})[pt.n] = m
    return {method: dict(sorted(by_n.items())) for method, by_n in out.items()}


def run_measurements(name: str, points: Iterable[Point], *, label: Callable[[Point], str] = str) -> list[str]:
    """Measure each point (cached ones return at once) behind a progress bar; returns error messages, if any."""
    points = list(points)
    store, errors = _store(name), []
    bar = st.progress(0.0, text="Measuring…")
    for i, pt in enumerate(points):
        bar.progress(i / max(1, len(points)), text=f"Measuring {label(pt)} ({i + 1}/{len(points)})")
        try:
            store[pt] = measure_point(pt.device, pt.n, pt.d, pt.heads, pt.dtype, pt.method)
        except (RuntimeError, ValueError) as exc:  # e.g. out of memory on a shared GPU: report, keep going
            errors.append(f"{label(pt)}: {str(exc).splitlines()[0]}")
    bar.empty()
    return errors


@dataclass(frozen=True)
class DecodeTiming:
    """Median seconds per generated token over ``runs`` generations, with and without the KV cache, and whether all
    of them produced the same tokens."""

    with_cache: list[float]
    without_cache: list[float]
    same_tokens: bool
    runs: int


@st.cache_data(max_entries=32, show_spinner=False)
def measure_decoding(device: str, prompt_len: int, new_tokens: int, seed: int = 0, repeats: int = 3) -> DecodeTiming:
    """Greedy generation by a seeded 4-layer decoder (d_model 128, 4 heads), with the cache and without, each
    ``repeats`` times; per token the median over the repeats (``core.measure.timer.Timing``)."""
    dev = torch.device(device)
    model = small_decoder(4, 4, 4, 32, prompt_len + new_tokens, seed=seed).to(dev)
    prompt = torch.randint(0, model.config.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(seed))
    prompt = prompt.to(dev)  # (1, T)
    time_generation(model, prompt[:, :8], 2, use_cache=True)  # warm-up
    runs = {mode: [time_generation(model, prompt, new_tokens, use_cache=mode) for _ in range(repeats)]
            for mode in (True, False)}
    median = {mode: [Timing.of(times).median_s for times in zip(*(r.seconds for r in rs), strict=True)]
              for mode, rs in runs.items()}
    same = all(torch.equal(r.tokens, runs[True][0].tokens) for rs in runs.values() for r in rs)
    return DecodeTiming(median[True], median[False], same, repeats)
