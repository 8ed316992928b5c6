"""The FlashAttention page's kernel section: the fused Triton kernel's source beside the Python tile loop, and the
kernel run where this machine can run it.

- A CUDA GPU with Triton: the kernel vs torch SDPA vs the Python tile loop (``core.tiled.tiled_attention``) at the
  learner's n, time and peak memory, measured through :mod:`ui.measure` (each point once, cached).
- No GPU, Triton installed: the kernel needs a GPU to be fast; Triton's interpreter runs the same kernel body on the
  CPU (numpy, slow) at the page's small n, and its output is compared with the tile loop's on the same inputs.
- No Triton: says so, and how to get it.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Mapping

import pandas as pd
import streamlit as st
import torch

from core.kernels import flash_attention as kernel
from core.measure.device import device_label
from core.tiled import _attend_one_head, online_softmax_step, tiled_attention_reference
from ui.measure import Measurement, Point, dtypes_for, measured, run_measurements

SLUG = "flash_attention"
GPU_LENGTHS = [1024, 2048, 4096, 8192, 16384]
GPU_HEADS, GPU_D = 8, 64
METHODS = {"triton": "Triton kernel (fused)", "sdpa": "torch SDPA (fused)", "tiled": "Python tile loop"}
CODE_HEIGHT = 560  # px: the two sources scroll side by side instead of making the page two screens longer
KERNEL_BLOCK = 16  # the interpreter check's tiles: tl.dot multiplies blocks of at least 16 rows


def seeded_head(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The page's inputs: q, k, v ``(n, d)`` of one head, N(0, 1) from seeds seed, seed + 1, seed + 2."""
    q, k, v = (torch.randn(n, d, generator=torch.Generator().manual_seed(seed + i)) for i in range(3))  # (n, d)
    return q, k, v


@functools.cache
def loop_source() -> str:
    """The Python side: the online-softmax step and the tile loop that calls it (core/tiled.py), read once per
    process."""
    return inspect.getsource(online_softmax_step) + "\n\n" + inspect.getsource(_attend_one_head)


@st.cache_data(max_entries=64, show_spinner="Running the Triton kernel in its interpreter…")
def interpreter_check(n: int, d: int, causal: bool, seed: int) -> dict:
    """Run the kernel in Triton's interpreter on the page's inputs and the tile loop on the same ones (16 × 16 tiles
    both). Returns max |kernel − loop| and the interpreter's seconds, or the reason it cannot run."""
    q, k, v = (t[None, None] for t in seeded_head(n, d, seed))  # (1, 1, n, d)
    try:
        kernel.check_runnable(q.device)
    except kernel.KernelUnavailable as exc:
        return {"unavailable": str(exc)}
    start = time.perf_counter()
    out = kernel.flash_attention(q, k, v, causal=causal, block_m=KERNEL_BLOCK, block_n=KERNEL_BLOCK)
    seconds = time.perf_counter() - start
    loop = tiled_attention_reference(q, k, v, causal=causal, block_q=KERNEL_BLOCK, block_k=KERNEL_BLOCK)
    return {"max_diff": float((out - loop).abs().max()), "seconds": seconds}


def timing_rows(results: Mapping[str, Mapping[int, Measurement]], n: int) -> list[dict]:
    """One table row per measured method at n: time, peak memory, and both as multiples of SDPA's."""
    sdpa = results.get("sdpa", {}).get(n)
    rows = []
    for method, name in METHODS.items():
        r = results.get(method, {}).get(n)
        if r is not None:
            rows.append({"method": name, "time (ms)": r.seconds * 1e3, "peak (MiB)": r.peak_bytes / 2**20,
                         "time / SDPA": r.seconds / sdpa.seconds if sdpa else None,
                         "peak / SDPA": r.peak_bytes / sdpa.peak_bytes if sdpa and sdpa.peak_bytes else None})
    return rows


def _gpu_timing(device: torch.device) -> None:
    """Measure the three fused-or-not paths on the learner's GPU at one n (a button: each point costs seconds)."""
    c1, c2 = st.columns(2)
    n = c1.select_slider("n for the timing", GPU_LENGTHS, 4096, key=f"{SLUG}_kernel_n")
    dtype = c2.radio("dtype", dtypes_for(device), index=1, horizontal=True, key=f"{SLUG}_kernel_dtype")
    st.caption(f"Device: **{device_label(device)}** · batch 1, {GPU_HEADS} heads of width {GPU_D}, {dtype}, no mask, "
               "forward only · best of up to 5 calls after a warm-up (the kernel compiles on its first call).")
    if st.button("📏 Measure kernel vs SDPA vs loop", key=f"{SLUG}_kernel_measure", type="primary"):
        points = [Point(str(device), n, GPU_D, GPU_HEADS, dtype, method) for method in METHODS]
        for error in run_measurements(f"{SLUG}_kernel", points, label=lambda p: f"{METHODS[p.method]} at n = {p.n:,}"):
            st.warning(f"Could not measure {error}")
    rows = timing_rows(measured(f"{SLUG}_kernel", device=str(device), d=GPU_D, heads=GPU_HEADS, dtype=dtype), n)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.info("Press **Measure** to time the Triton kernel, torch's fused attention and the Python tile loop here.")


def _cpu_check(n: int, d: int, causal: bool, seed: int) -> None:
    """Say the kernel needs a GPU; run it in Triton's interpreter when Triton is installed."""
    if torch.cuda.is_available():  # the learner chose the CPU on a machine that has a GPU
        st.info("**The kernel needs a GPU.** Choose **cuda** as the compute device in the sidebar to time it here.")
        return
    st.info("**The kernel needs a GPU.** This machine has no CUDA GPU, so the fused kernel cannot run at speed here "
            "and there is nothing to time against SDPA.")
    if not kernel.triton_available():
        st.warning("**Triton is not installed**, so the kernel cannot run here at all, not even in its interpreter. "
                   "`pip install triton` adds it (CUDA builds of torch bring it); the source above is the real file.")
        return
    check = interpreter_check(n, d, causal, seed)
    if "unavailable" in check:
        st.warning(check["unavailable"])
        return
    st.success(f"**Triton's interpreter** ran the same kernel on the CPU (numpy, one program at a time) for this page's "
               f"inputs: n = {n}, d = {d}{', causal' if causal else ''}, {KERNEL_BLOCK}×{KERNEL_BLOCK} tiles, in "
               f"{check['seconds']:.2f} s. Max |kernel − Python loop| = **{check['max_diff']:.2e}**.")


def render_kernel_section(n: int, d: int, causal: bool, seed: int, device: torch.device) -> None:
    """The section: both sources side by side, then the GPU timing or the CPU check."""
    st.subheader("The real kernel: the same loop, fused in Triton")
    st.markdown("On a GPU each step of the Python loop is a separate kernel launch that reads and writes global "
                "memory. The Triton kernel below is the same loop as **one** program per block of query rows: its "
                "Q block, the score tile, m, l and acc stay on chip, and only O (and, if asked, lse = m + log l per "
                "row, enough to rebuild any row of the attention map) is written. Same names, same three updates.")
    left, right = st.columns(2)
    with left:
        st.caption("Python tile loop · `core/tiled.py`")
        st.code(loop_source(), language="python", line_numbers=True, height=CODE_HEIGHT)
    with right:
        st.caption("Triton kernel · `core/kernels/flash_attention.py`")
        st.code(kernel.kernel_source(), language="python", line_numbers=True, height=CODE_HEIGHT)
    if device.type == "cuda" and kernel.triton_available():
        _gpu_timing(device)
    elif device.type == "cuda":
        st.warning("**Triton is not installed**: `pip install triton` to time the kernel on this GPU.")
    else:
        _cpu_check(n, d, causal, seed)
