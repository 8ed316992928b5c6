"""core.measure.timer: the one timer (warm-up, repeats under a time budget, the median)."""

from __future__ import annotations

import time

import pytest
import torch

from core.measure.timer import Timing, time_call


def test_time_call_stops_repeating_once_the_time_budget_is_spent():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.02)

    assert time_call(slow, torch.device("cpu"), repeats=5, time_budget_s=0.01).median_s >= 0.02
    assert len(calls) == 1  # the warm-up alone spent the budget: it is the measurement
    calls.clear()
    time_call(slow, torch.device("cpu"), repeats=5, time_budget_s=0.07)
    assert 2 <= len(calls) < 1 + 5  # runs stop once the budget is spent, after at least one timed run
    calls.clear()
    assert time_call(slow, torch.device("cpu"), repeats=3).median_s >= 0.02 and len(calls) == 1 + 3  # no budget: every repeat


def test_the_statistic_is_the_median_not_the_fastest_run():
    assert Timing.of([3.0, 1.0, 2.0]) == Timing(median_s=2.0, runs=3)
    assert Timing.of([4.0, 1.0]).median_s == 2.5
    with pytest.raises(ValueError):
        Timing.of([])
    sleeps = iter([0.0, 0.0, 0.03, 0.03])  # warm-up, then one fast run and two slow ones

    def uneven():
        time.sleep(next(sleeps))

    timing = time_call(uneven, "cpu", repeats=3)
    assert timing.runs == 3 and timing.median_s >= 0.03  # the fastest run (~0 s) would say otherwise


def test_without_warm_up_every_call_is_timed():
    calls = []
    timing = time_call(lambda: calls.append(1), repeats=2, warmup=False)
    assert len(calls) == 2 and timing.runs == 2 and timing.median_s >= 0
