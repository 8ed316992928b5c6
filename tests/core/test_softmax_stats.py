"""core.lab.softmax_stats: entropy, the softmax Jacobian against autograd, the √d_k sweep, JS divergence between heads."""

from __future__ import annotations

import math

import pytest
import torch

from core.attention import attention
from core.lab.softmax_stats import (
    d_k_grid,
    js_divergence,
    pairwise_head_divergence,
    predicted_sweep_peak_bytes,
    scaling_sweep,
    softmax_entropy,
    softmax_jacobian,
    softmax_jacobian_norm,
)
from core.measure.memory_meter import measure_peak


def test_entropy_limits():
    n = 7
    assert softmax_entropy(torch.full((n,), 1 / n)).item() == pytest.approx(math.log(n))
    assert softmax_entropy(torch.eye(n)).tolist() == [0.0] * n  # one-hot rows, 0·log 0 = 0
    p = torch.softmax(torch.randn(3, 5, dtype=torch.float64), -1)
    torch.testing.assert_close(softmax_entropy(p), -(p * p.log()).sum(-1))


def test_jacobian_equals_autograd_and_its_norm_the_closed_form():
    s = torch.randn(2, 6, dtype=torch.float64)
    p = torch.softmax(s, -1)
    for b in range(2):
        auto = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, -1), s[b])  # (6, 6)
        torch.testing.assert_close(softmax_jacobian(p)[b], auto)
    torch.testing.assert_close(softmax_jacobian_norm(p), torch.linalg.matrix_norm(softmax_jacobian(p)))
    assert softmax_jacobian(p).sum(-1).abs().max() < 1e-12  # rows sum to 0: softmax is shift-invariant
    assert softmax_jacobian_norm(torch.eye(4)).abs().max() < 1e-6  # saturated: no gradient at all


def test_d_k_grid():
    assert d_k_grid(16) == [1, 2, 4, 8, 16]
    assert d_k_grid(48) == [1, 2, 4, 8, 16, 32, 48]
    assert d_k_grid(1) == [1]


def test_scaling_sweep_matches_theory_and_the_core_attention():
    sweep = scaling_sweep([1, 4, 64, 512], n_keys=16, n_samples=1000, seed=0)
    for d, std, scaled in zip(sweep.d_ks, sweep.dot_std, sweep.scaled_std, strict=True):
        assert std == pytest.approx(math.sqrt(d), rel=0.1)  # Var(q·k) = d_k for unit-variance entries
        assert scaled == pytest.approx(1.0, rel=0.1)
    assert sweep.theory_std == (1.0, 2.0, 8.0, math.sqrt(512))
    # Unscaled: saturates (max weight → 1, entropy → 0, gradient → 0); scaled: stays soft at every width.
    assert sweep.max_weight_unscaled[-1] > 0.85 and max(sweep.max_weight_scaled) < 0.4
    assert sweep.entropy_unscaled[-1] < 0.3 < min(sweep.entropy_scaled)
    assert sweep.jacobian_norm_unscaled[-1] < 0.3 * min(sweep.jacobian_norm_scaled)
    assert sweep.max_weight_scaled[0] == sweep.max_weight_unscaled[0]  # d_k = 1: √1 = 1
    for row in sweep.example_scaled + sweep.example_unscaled:
        assert sum(row) == pytest.approx(1.0)
    # The same numbers as core attention on the same seeded draws (first d coordinates of one draw).
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1000, 1, 512, generator=g)[..., :64]
    k = torch.randn(1000, 16, 512, generator=g)[..., :64]
    w = attention(q, k, torch.zeros(1000, 16, 1), scoring="dot").weights[:, 0].double()
    assert sweep.max_weight_unscaled[2] == pytest.approx(w.max(-1).values.mean().item())


def test_scaling_sweep_is_seeded():
    a, b = scaling_sweep([8], 4, 50, seed=1), scaling_sweep([8], 4, 50, seed=1)
    assert a == b
    assert scaling_sweep([8], 4, 50, seed=2).dot_std != a.dot_std


def test_js_divergence_bounds_symmetry_and_masked_rows():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    assert js_divergence(p, q).item() == pytest.approx(math.log(2))  # disjoint supports
    assert js_divergence(p, p).item() == 0.0
    r = torch.softmax(torch.randn(4, dtype=torch.float64), -1)
    assert js_divergence(p, r).item() == pytest.approx(js_divergence(r, p).item())
    zero = torch.zeros(4, dtype=torch.float64)  # a fully masked row
    assert torch.isfinite(js_divergence(zero, zero)) and js_divergence(zero, zero).item() == 0.0


def test_pairwise_head_divergence():
    w = torch.softmax(torch.randn(3, 5, 6, dtype=torch.float64), -1)  # (H, Lq, Lk)
    div = pairwise_head_divergence(w)
    assert div.shape == (3, 3)
    torch.testing.assert_close(div, div.T)
    assert div.diagonal().abs().max() < 1e-12
    expected = torch.stack([js_divergence(w[0, i], w[2, i]) for i in range(5)]).mean()
    torch.testing.assert_close(div[0, 2], expected)


@pytest.mark.parametrize("n_keys, max_d_k, n_samples", [(2, 16, 50), (16, 1024, 100), (64, 256, 200), (64, 16, 500)])
def test_sweep_peak_prediction_bounds_the_measured_peak(n_keys, max_d_k, n_samples):
    """The why-√d_k page refuses a sweep before it runs from this prediction: never below the measured peak."""
    d_ks = d_k_grid(max_d_k)
    measured = measure_peak(scaling_sweep, d_ks, n_keys, n_samples, 0, "cpu", device="cpu").peak_bytes
    predicted = predicted_sweep_peak_bytes(d_ks, n_keys, n_samples)
    assert measured <= predicted <= 1.25 * measured
