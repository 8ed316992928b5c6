"""core.lab.permutation: attention without positions is permutation-equivariant (and stops being so with any scheme);
RoPE scores depend on the offset only, checked against a float64 rotation written out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from core.lab.permutation import (
    POSITION_MODES,
    diagonal_spread,
    permutation_experiment,
    permutation_study,
    position_score_grid,
    position_similarity,
    random_permutation,
    relative_bias_example,
    rope_plane,
)
from core.lab.toy_inputs import seeded_module
from core.multihead import MultiHeadAttention
from core.positional import RelativePositionBias, sinusoidal_encoding

WORDS = "the quick brown fox jumps over a lazy dog".split()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_without_positions_outputs_are_just_permuted(seed):
    results = permutation_study(WORDS, seed=seed, shuffle=seed)
    none = results["none"]
    assert none.max_deviation < 1e-5
    assert_close(none.out_perm, none.out[none.perm], atol=1e-5, rtol=1e-5)
    # the weights move with the tokens too: W(PX) = P W(X) Pᵀ
    p = none.perm
    assert_close(none.weights_perm, none.weights[:, p][:, :, p], atol=1e-6, rtol=1e-5)
    for mode in POSITION_MODES[1:]:
        assert results[mode].max_deviation > 1e-3, mode


def test_the_experiment_uses_the_core_layer_as_is():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(5, 16)
    perm = torch.tensor([4, 2, 0, 1, 3])
    result = permutation_experiment(x, perm, mha, "none")
    with torch.no_grad():
        assert_close(result.out, mha(x[None])[0][0])
        assert_close(result.out_perm, mha(x[perm][None])[0][0])


def test_sinusoidal_positions_belong_to_slots_not_tokens():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(5, 16)
    perm = torch.tensor([1, 0, 2, 3, 4])
    result = permutation_experiment(x, perm, mha, "sinusoidal")
    with torch.no_grad():
        assert_close(result.out_perm, mha((x[perm] + sinusoidal_encoding(5, 16))[None])[0][0])


def test_random_permutation_is_never_the_identity():
    for seed in range(50):
        perm = random_permutation(2, torch.Generator().manual_seed(seed))
        assert perm.tolist() == [1, 0]
    assert sorted(random_permutation(9, torch.Generator().manual_seed(3)).tolist()) == list(range(9))


def _rope_reference(q: torch.Tensor, k: torch.Tensor, length: int) -> torch.Tensor:
    """score[m, n] = Σ_i over pairs of the 2-D dot product of q_i rotated by m·θ_i and k_i rotated by n·θ_i."""
    d = q.shape[0]
    out = torch.zeros(length, length, dtype=torch.float64)
    for m in range(length):
        for n in range(length):
            for i in range(d // 2):
                theta = 10000 ** (-2 * i / d)
                a, b = m * theta, n * theta
                qx, qy = q[2 * i].item(), q[2 * i + 1].item()
                kx, ky = k[2 * i].item(), k[2 * i + 1].item()
                rq = (qx * math.cos(a) - qy * math.sin(a), qx * math.sin(a) + qy * math.cos(a))
                rk = (kx * math.cos(b) - ky * math.sin(b), kx * math.sin(b) + ky * math.cos(b))
                out[m, n] += rq[0] * rk[0] + rq[1] * rk[1]
    return out


def test_rope_score_grid_matches_the_written_out_rotation_and_depends_on_offset_only():
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    grid = position_score_grid(q, k, 10, "rope")
    assert_close(grid.double(), _rope_reference(q, k, 10), atol=1e-4, rtol=1e-4)
    offsets, spread = diagonal_spread(grid)
    assert offsets.tolist() == list(range(-9, 10))
    assert float(spread.max()) < 1e-4


def test_absolute_sinusoids_do_not_depend_on_offset_only_and_no_positions_is_flat():
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    assert float(diagonal_spread(position_score_grid(q, k, 10, "sinusoidal"))[1].max()) > 0.1
    flat = position_score_grid(q, k, 6, "none")
    assert_close(flat, torch.full((6, 6), float(q @ k)))
    with pytest.raises(ValueError, match="rope"):
        position_score_grid(q, k, 4, "alibi")


def test_rope_plane_rotates_by_theta_per_step_and_keeps_length():
    vector = torch.tensor([1.0, 0.0, 0.0, 1.0])
    path = rope_plane(vector, torch.arange(5), pair=1)  # θ_1 = 10000^(-2/4) = 0.01
    assert_close(path.norm(dim=-1), torch.ones(5))
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert_close(angles.diff(), torch.full((4,), 0.01), atol=1e-6, rtol=1e-4)


def test_position_similarity():
    table = sinusoidal_encoding(12, 16)
    assert_close(position_similarity(table, "dot"), table @ table.T)
    cosine = position_similarity(table, "cosine")
    assert_close(cosine.diagonal(), torch.ones(12))
    # sinusoids: PE(m)·PE(m+Δ) = Σ cos(Δ ω_i) depends on Δ only
    assert float(diagonal_spread(position_similarity(table, "dot"))[1].max()) < 1e-4
    with pytest.raises(ValueError, match="cosine"):
        position_similarity(table, "euclid")


def test_relative_bias_example_reads_the_bias_table_through_the_buckets():
    ids, bias = relative_bias_example(8, 16, True, seed=0, length=6, n_heads=2)
    assert ids.shape == (6, 6) and bias.shape == (2, 6, 6)
    rel = seeded_module(lambda: RelativePositionBias(2, num_buckets=8, max_distance=16), 0)
    assert torch.equal(ids, rel.buckets(6, 6))
    assert_close(bias, rel.embedding.weight.detach()[ids].permute(2, 0, 1))  # bias[h, i, j] = table[bucket(i, j), h]
    assert torch.equal(torch.diagonal(ids), torch.zeros(6, dtype=torch.long))  # offset 0 is bucket 0


@pytest.mark.cuda
def test_permutation_study_on_cuda_matches_cpu():
    cpu, gpu = permutation_study(WORDS), permutation_study(WORDS, device="cuda")
    assert gpu["none"].max_deviation < 1e-5
    for mode in POSITION_MODES:
        assert_close(gpu[mode].deviation.cpu(), cpu[mode].deviation, atol=1e-5, rtol=1e-3)
