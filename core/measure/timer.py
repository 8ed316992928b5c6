"""The one timer of the project, after Triton's ``do_bench``: warm up, repeat under a time budget, report the median.

    median_s = median(t₁ … t_runs),   tᵢ = wall time of one call of fn, the device synchronised before and after

Why the median: a busy machine (other processes, thread wake-ups) makes a few runs slow; the median ignores them
without betting on the single luckiest run. Every page caption and benchmark table that shows a time names it
("median of N runs"); :meth:`Timing.of` is the one place the statistic is computed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    """The median wall time of ``runs`` timed calls, in seconds."""

    median_s: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        """The timing of the samples ``[runs]`` (seconds): their median and their count."""
        if not samples:
            raise ValueError("a timing needs at least one sample")
        return cls(statistics.median(samples), len(samples))


def time_call(
    fn: Callable[[], object], device: torch.device | str | None = None, *, repeats: int = 7,
    time_budget_s: float | None = None, warmup: bool = True,
) -> Timing:
    """Median wall time of ``fn()`` over up to ``repeats`` runs, after one warm-up call (CUDA synchronised around each).

    ``time_budget_s`` bounds the cost for slow calls: no new run starts once the warm-up and the timed runs have
    taken that long (at least one run is timed). A warm-up slower than the whole budget is the measurement itself
    (its first-call overheads are small beside such a call). ``warmup=False`` times from the first call: for a
    caller that has warmed ``fn`` up already, or whose ``fn`` changes state (one decoding step).
    """
    device = torch.device("cpu" if device is None else device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    if warmup:
        fn()
        sync()
        warm_up = time.perf_counter() - start
        if time_budget_s is not None and warm_up >= time_budget_s:
            return Timing.of([warm_up])
    samples: list[float] = []
    while len(samples) < max(1, repeats):
        if samples and time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
            break
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return Timing.of(samples)
