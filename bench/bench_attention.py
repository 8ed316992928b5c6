"""Benchmark: naive vs tiled (ours) vs torch SDPA attention (and our Triton kernel on CUDA) — median time and measured
peak memory.

    python -m bench.bench_attention [--device cuda] [--quick] [--sizes 256,1024] [--naive-budget-mib 4096]

B=1, 8 heads, d=64, fp32, no mask, n = 256 … 8192 on CPU (… 16384 on CUDA). Each method is timed after a warm-up;
the repeats are interleaved (naive, tiled, SDPA, naive, …) so a busy machine slows all three alike; each repeat is
one run of ``core.measure.timer.time_call`` and the median (``Timing.of``) is reported. Peak memory is measured in a separate call with ``core.measure.memory_meter.measure_peak``. Naive attention is
run only where ``core.measure.memory_guard`` allows it under ``--naive-budget-mib``; otherwise the row says
"skipped (guard)". With ``--device cuda`` and Triton installed, the fused kernel ``core.kernels.flash_attention``
gets its own columns; on CPU they are left out with a note (the kernel needs a GPU). Prints a Markdown table
(docs/benchmarks.md keeps one) and whether the targets are met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from core.attention import naive_attention
from core.kernels.flash_attention import flash_attention, triton_available
from core.measure.device import device_label
from core.measure.memory import MIB
from core.measure.memory_guard import check_attention_memory
from core.measure.memory_meter import measure_peak
from core.measure.timer import Timing, time_call
from core.tiled import tiled_attention

BATCH, HEADS, HEAD_DIM = 1, 8, 64
CPU_SIZES = (256, 512, 1024, 2048, 4096, 8192)
CUDA_SIZES = (*CPU_SIZES, 16384)

def methods(block_q: int, block_k: int, triton: bool = False) -> dict[str, Callable[..., torch.Tensor]]:
    """The contenders, each called as fn(q, k, v): naive, tiled, SDPA, and with ``triton`` our fused kernel."""
    contenders = {
        "naive": naive_attention,
        "tiled": partial(tiled_attention, block_q=block_q, block_k=block_k),
        "sdpa": F.scaled_dot_product_attention,
    }
    if triton:
        contenders["triton"] = flash_attention
    return contenders


@dataclass
class Result:
    """One method at one n: median seconds and peak bytes, or None when the guard skipped it."""

    seconds: float | None = None
    peak_bytes: int | None = None


def repeats_for(n: int, requested: int | None, quick: bool) -> int:
    """Timed repeats: fewer for large n, where one call takes seconds on a CPU."""
    if requested is not None:
        return requested
    if quick:
        return 3
    return 7 if n <= 2048 else 5 if n <= 4096 else 3


def bench_size(
    n: int, device: torch.device, repeats: int, naive_budget: int, contenders: dict[str, Callable[..., torch.Tensor]]
) -> tuple[dict[str, Result], dict[str, float]]:
    """Time and measure every method at sequence length n; returns results and max |method - SDPA| for the tiled
    path and the Triton kernel (when it runs)."""
    gen = torch.Generator().manual_seed(n)
    q, k, v = (torch.randn(BATCH, HEADS, n, HEAD_DIM, generator=gen).to(device) for _ in range(3))  # (B, H, n, d)
    guard = check_attention_memory(BATCH, HEADS, n, n, HEAD_DIM, q.dtype, budget_bytes=naive_budget, device=device)
    runnable = {name: fn for name, fn in contenders.items() if name != "naive" or guard.allowed}
    results = {name: Result() for name in contenders}
    for name, fn in runnable.items():  # warm-up, and the peak-memory measurement (its own call)
        fn(q, k, v)
        results[name].peak_bytes = measure_peak(fn, q, k, v, device=device).peak_bytes
    times: dict[str, list[float]] = {name: [] for name in runnable}
    for _ in range(repeats):  # interleaved: one timed run of each method in turn (all warmed up above)
        for name, fn in runnable.items():
            times[name].append(time_call(partial(fn, q, k, v), device, repeats=1, warmup=False).median_s)
    for name, samples in times.items():
        results[name].seconds = Timing.of(samples).median_s
    sdpa = F.scaled_dot_product_attention(q, k, v)
    errors = {name: (contenders[name](q, k, v) - sdpa).abs().max().item() for name in ("tiled", "triton")
              if name in contenders}
    return results, errors


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}×"


def row(n: int, results: dict[str, Result], errors: dict[str, float]) -> str:
    """One Markdown table row: times (ms), peaks (MiB), ratios to SDPA, naive/tiled memory, tiled error; then the
    Triton kernel's time, ratio, peak, ratio and error when it ran."""
    naive, tiled, sdpa = results["naive"], results["tiled"], results["sdpa"]
    skipped = "skipped (guard)"
    cells = [
        str(n),
        skipped if naive.seconds is None else f"{naive.seconds * 1e3:.1f}",
        f"{tiled.seconds * 1e3:.1f}",
        f"{sdpa.seconds * 1e3:.1f}",
        ratio(naive.seconds, sdpa.seconds),
        ratio(tiled.seconds, sdpa.seconds),
        skipped if naive.peak_bytes is None else f"{naive.peak_bytes / MIB:.1f}",
        f"{tiled.peak_bytes / MIB:.1f}",
        f"{sdpa.peak_bytes / MIB:.1f}",
        ratio(naive.peak_bytes, sdpa.peak_bytes),
        ratio(tiled.peak_bytes, sdpa.peak_bytes),
        ratio(naive.peak_bytes, tiled.peak_bytes),
        f"{errors['tiled']:.1e}",
    ]
    if "triton" in results:
        triton = results["triton"]
        cells += [f"{triton.seconds * 1e3:.1f}", ratio(triton.seconds, sdpa.seconds), f"{triton.peak_bytes / MIB:.1f}",
                  ratio(triton.peak_bytes, sdpa.peak_bytes), f"{errors['triton']:.1e}"]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| n | naive ms | tiled ms | SDPA ms | naive/SDPA time | tiled/SDPA time | naive MiB | tiled MiB | SDPA MiB "
    "| naive/SDPA mem | tiled/SDPA mem | naive/tiled mem | max abs(tiled − SDPA) |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
TRITON_COLUMNS = ("triton ms", "triton/SDPA time", "triton MiB", "triton/SDPA mem", "max abs(triton − SDPA)")


def header(triton: bool) -> str:
    """The table header, with the Triton kernel's five columns when it runs."""
    if not triton:
        return HEADER
    names, rule = HEADER.split("\n")
    return names + "".join(f" {c} |" for c in TRITON_COLUMNS) + "\n" + rule + "---:|" * len(TRITON_COLUMNS)


def triton_note(device: torch.device) -> str | None:
    """Why the Triton columns are left out, or None when they run."""
    if device.type != "cuda":
        return "Triton kernel: skipped — it needs a CUDA GPU (run with --device cuda on one)."
    if not triton_available():
        return "Triton kernel: skipped — Triton is not installed (`pip install triton`)."
    return None


def machine_description(device: torch.device) -> str:
    """Date, device, CPU model, torch version, threads, load average: what a reader needs to weigh the numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{dt.datetime.now():%Y-%m-%d %H:%M} · {device_label(device)} · CPU: {cpu}, {os.cpu_count()} cores · "
            f"torch {torch.__version__} · load average (1/5/15 min) {load}")


def report_targets(all_results: dict[int, dict[str, Result]]) -> list[str]:
    """The issue's targets (B=1, 8 heads, d=64, fp32), evaluated on the measured numbers."""
    lines = []
    at4096, at2048 = all_results.get(4096), all_results.get(2048)
    if at4096 and at4096["naive"].peak_bytes is not None:
        r = at4096["naive"].peak_bytes / at4096["tiled"].peak_bytes
        lines.append(f"tiled peak >= 30x below naive at n=4096: {r:.1f}x -> {'met' if r >= 30 else 'NOT met'}")
    if at4096:
        r = at4096["tiled"].peak_bytes / at4096["sdpa"].peak_bytes
        lines.append(f"tiled peak <= 2x SDPA peak at n=4096: {r:.2f}x -> {'met' if r <= 2 else 'NOT met'}")
    if at2048:
        r = at2048["tiled"].seconds / at2048["sdpa"].seconds
        lines.append(f"tiled time <= 2x SDPA time at n=2048: {r:.2f}x -> {'met' if r <= 2 else 'NOT met'}")
    at8192 = all_results.get(8192)
    if at8192 and "triton" in at8192:
        r = at8192["triton"].seconds / at8192["sdpa"].seconds
        lines.append(f"triton time / SDPA time at n=8192, fp32: {r:.2f}x (issue 24's goal, <= 1.5x, is stated for "
                     "bf16; this run is fp32)")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="n up to 2048, 3 repeats")
    parser.add_argument("--sizes", help="comma-separated sequence lengths (overrides the default sweep)")
    parser.add_argument("--repeats", type=int, help="timed repeats per method (default: 7, 5 at n=4096, 3 above)")
    parser.add_argument("--naive-budget-mib", type=int, default=4096,
                        help="memory budget for naive attention; larger predicted peaks are skipped (default 4096)")
    parser.add_argument("--block-q", type=int, default=256, help="tiled query block (default 256)")
    parser.add_argument("--block-k", type=int, default=512, help="tiled key block (default 512)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is visible")
    sizes = CUDA_SIZES if device.type == "cuda" else CPU_SIZES
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    elif args.quick:
        sizes = tuple(n for n in sizes if n <= 2048)
    print(f"Attention benchmark — B={BATCH}, H={HEADS}, d={HEAD_DIM}, fp32, no mask; median of interleaved repeats")
    print(machine_description(device))
    print(f"tiled blocks: block_q={args.block_q}, block_k={args.block_k}; naive budget {args.naive_budget_mib} MiB")
    note = triton_note(device)
    print(f"{note}\n" if note else "Triton kernel: core.kernels.flash_attention (compiled on its first call)\n")
    print(header(note is None), flush=True)
    all_results = {}
    contenders = methods(args.block_q, args.block_k, triton=note is None)
    for n in sizes:
        repeats = repeats_for(n, args.repeats, args.quick)
        results, errors = bench_size(n, device, repeats, args.naive_budget_mib * MIB, contenders)
        all_results[n] = results
        print(row(n, results, errors), flush=True)
    print(f"\nfinished: {machine_description(device)}")
    for line in report_targets(all_results):
        print(line)


if __name__ == "__main__":
    main()
