"""core.lab.scoring_cost: seeded scorers, parameter counts vs formulas, FLOPs vs torch's own FLOP counter, timing."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from core.attention import SCORINGS, attention
from core.lab.scoring_cost import (
    build_scorers,
    count_parameters,
    parameter_formula,
    predicted_timing_peak_bytes,
    run_scoring,
    score_flops,
    time_scorings,
)
from core.measure.memory_meter import measure_peak


@pytest.mark.parametrize("d, h", [(4, 3), (16, 16), (32, 8)])
def test_parameter_counts_equal_the_formulas(d, h):
    scorers = build_scorers(d, h, seed=0)
    for name in SCORINGS:
        assert count_parameters(scorers[name]) == parameter_formula(name, d, h)[1]


def test_scorers_are_seeded_and_identity_w_gives_the_dot_product():
    a, b = build_scorers(8, 4, seed=0), build_scorers(8, 4, seed=0)
    assert torch.equal(a["additive"].w_q.weight, b["additive"].w_q.weight)
    assert not torch.equal(a["multiplicative"].weight, torch.eye(8))
    q, k, v = torch.randn(5, 8), torch.randn(6, 8), torch.randn(6, 3)
    ident = build_scorers(8, 4, seed=0, identity_w=True)["multiplicative"]
    torch.testing.assert_close(run_scoring(q, k, v, "multiplicative", ident).weights,
                               attention(q, k, v, scoring="dot").weights)
    scaled = run_scoring(q, k, v, "scaled_dot", None)
    torch.testing.assert_close(scaled.scaled_scores, (q @ k.T) / math.sqrt(8))


def _matmul_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("lq, lk, d, h", [(5, 7, 8, 4), (16, 16, 32, 16)])
def test_flop_formulas_agree_with_torch_flop_counter(lq, lk, d, h):
    """torch counts matrix products only (2 per multiply-add); the formulas add the elementwise work on top."""
    q, k = torch.randn(lq, d), torch.randn(lk, d)
    scorers = build_scorers(d, h, seed=0)
    assert _matmul_flops(lambda: q @ k.T) == score_flops("dot", lq, lk, d, h)
    assert score_flops("scaled_dot", lq, lk, d, h) == score_flops("dot", lq, lk, d, h) + lq * lk
    assert _matmul_flops(lambda: scorers["multiplicative"](q, k)) == score_flops("multiplicative", lq, lk, d, h)
    elementwise = 2 * lq * lk * h  # the broadcast add and the tanh
    assert _matmul_flops(lambda: scorers["additive"](q, k)) == score_flops("additive", lq, lk, d, h) - elementwise
    with pytest.raises(ValueError, match="unknown scoring"):
        score_flops("cosine", 1, 1, 1, 1)


def test_time_scorings_measures_every_scoring():
    timing = time_scorings(16, 8, 4, seed=0, device=torch.device("cpu"), repeats=3)
    assert set(timing.seconds) == set(SCORINGS)
    assert all(s > 0 for s in timing.seconds.values())
    assert timing.device == "cpu"


@pytest.mark.parametrize("length, d, h", [(16, 2, 1), (128, 16, 16), (256, 64, 8), (512, 8, 1)])
def test_timing_peak_prediction_bounds_the_measured_peak(length, d, h):
    """The scoring page refuses the timing before it runs from this prediction: never below the measured peak."""
    measured = measure_peak(time_scorings, length, d, h, 0, torch.device("cpu"), 1, device="cpu").peak_bytes
    predicted = predicted_timing_peak_bytes(length, d, h)
    assert measured <= predicted <= 1.5 * measured
