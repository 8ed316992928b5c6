"""Positional encodings against their formulas: sinusoidal, RoPE (complex rotation), ALiBi, T5 buckets."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.positional import (
    LearnedPositionalEmbedding,
    PositionalScheme,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_encoding,
)


@settings(max_examples=25, deadline=None)
@given(d_model=st.integers(1, 64), pos=st.integers(0, 200), data=st.data())
def test_property_sinusoidal_matches_the_papers_formula(d_model, pos, data):
    i = data.draw(st.integers(0, (d_model - 1) // 2))
    pe = sinusoidal_encoding(pos + 1, d_model)
    assert pe.shape == (pos + 1, d_model)
    angle = pos / 10000 ** (2 * i / d_model)
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
    if 2 * i + 1 < d_model:
        assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_absolute_tables_lookup_and_bounds():
    table = SinusoidalPositionalEncoding(10, 8)
    torch.testing.assert_close(table(torch.tensor([3, 7])), sinusoidal_encoding(10, 8)[[3, 7]])
    assert sum(p.numel() for p in table.parameters()) == 0
    learned = LearnedPositionalEmbedding(10, 8)
    assert learned(torch.arange(4)).shape == (4, 8) and sum(p.numel() for p in learned.parameters()) == 80
    for module in (table, learned):
        with pytest.raises(ValueError, match="max_len=10"):
            module(torch.arange(11))


def rope_as_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Reference: pair (x_2i, x_2i+1) is the complex number x_2i + i·x_2i+1, multiplied by e^{i·pos·θ_i}."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rotated = z * torch.polar(torch.ones_like(theta), positions.double()[:, None] * theta)
    return torch.view_as_real(rotated).flatten(-2)


def test_rope_is_the_complex_rotation():
    rope = RotaryEmbedding(16)
    x, positions = torch.randn(2, 3, 9, 16), torch.arange(5, 14)
    torch.testing.assert_close(rope.rotate(x, positions), rope_as_complex(x, positions).float())
    torch.testing.assert_close(rope.rotate(x, torch.zeros(9, dtype=torch.long)), x)  # position 0: no rotation
    torch.testing.assert_close(rope.rotate(x, positions).norm(dim=-1), x.norm(dim=-1))  # rotations keep length
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(7)


def test_half_layout_is_the_interleaved_rotation_of_permuted_features():
    """Llama's rotate_half pairs (x_i, x_i+d/2): the same rotation once the features are reordered to pairs."""
    d, base = 16, 500.0
    half, interleaved = RotaryEmbedding(d, base=base, layout="half"), RotaryEmbedding(d, base=base)
    order = torch.stack([torch.arange(d // 2), torch.arange(d // 2, d)], dim=-1).flatten()  # 0, 8, 1, 9, ...
    x, positions = torch.randn(2, 3, 9, d), torch.arange(4, 13)
    torch.testing.assert_close(half.rotate(x, positions)[..., order], interleaved.rotate(x[..., order], positions))
    torch.testing.assert_close(interleaved.rotate(x, positions), rope_as_complex(x, positions, base).float())
    with pytest.raises(ValueError, match="choose one of"):
        RotaryEmbedding(d, layout="spiral")


@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 500), n=st.integers(0, 500), shift=st.integers(-200, 500), seed=st.integers(0, 2**16))
def test_property_rope_scores_depend_only_on_the_offset(m, n, shift, seed):
    shift = max(shift, -min(m, n))
    gen = torch.Generator().manual_seed(seed)
    rope = RotaryEmbedding(32)
    q, k = torch.randn(1, 1, 1, 32, generator=gen), torch.randn(1, 1, 1, 32, generator=gen)

    def score(pq: int, pk: int) -> torch.Tensor:
        return (rope.rotate(q, torch.tensor([pq])) * rope.rotate(k, torch.tensor([pk]))).sum()

    torch.testing.assert_close(score(m, n), score(m + shift, n + shift), atol=1e-3, rtol=1e-4)


def test_alibi_slopes_follow_the_paper():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    torch.testing.assert_close(alibi_slopes(4), torch.tensor([2.0 ** -(2 * (i + 1)) for i in range(4)]))
    # 12 heads (not a power of two): the 8-head slopes, then the odd-indexed 16-head slopes 2^-0.5, 2^-1.5, ...
    expected = [2.0 ** -(i + 1) for i in range(8)] + [2.0 ** -(0.5 + i) for i in range(4)]
    torch.testing.assert_close(alibi_slopes(12), torch.tensor(expected))


@pytest.mark.parametrize("lq, lk", [(5, 5), (1, 6), (3, 6)])
def test_alibi_bias_is_minus_slope_times_distance(lq, lk):
    bias = alibi_bias(4, lq, lk)
    slopes = alibi_slopes(4)
    assert bias.shape == (4, lq, lk)
    for h in range(4):
        for i in range(lq):
            for j in range(lk):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i + lk - lq - j))


def t5_bucket(relative_position: int, bidirectional: bool, num_buckets: int, max_distance: int) -> int:
    """Mesh-TensorFlow's _relative_position_bucket for one integer, written with math.log."""
    ret, n = 0, -relative_position
    if bidirectional:
        num_buckets //= 2
        ret += num_buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    val = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact))
    return ret + min(val, num_buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", [(32, 128), (8, 20)])
def test_relative_position_buckets_match_t5(bidirectional, num_buckets, max_distance):
    offsets = torch.arange(-300, 301)
    ours = relative_position_bucket(offsets, bidirectional=bidirectional, num_buckets=num_buckets,
                                    max_distance=max_distance)  # fmt: skip
    expected = [t5_bucket(int(o), bidirectional, num_buckets, max_distance) for o in offsets]
    assert ours.tolist() == expected


def test_relative_position_bias_depends_only_on_the_offset():
    rel = RelativePositionBias(3, num_buckets=16, max_distance=32)
    bias = rel(6, 9)  # the 6 queries are the last 6 of 9 positions
    assert bias.shape == (3, 6, 9)
    for i in range(1, 6):
        for j in range(1, 9):
            torch.testing.assert_close(bias[:, i, j], bias[:, i - 1, j - 1])
    torch.testing.assert_close(bias[:, 2, 5], rel.embedding.weight[0])  # query at position 5 looking at key 5


def test_positional_scheme_by_name():
    x = torch.zeros(2, 4, 8)
    sin = PositionalScheme("sinusoidal", max_len=16, d_model=8, n_heads=2, causal=True)
    torch.testing.assert_close(sin.add_to_embeddings(x, start=3), sinusoidal_encoding(16, 8)[3:7].expand(2, 4, 8))
    assert sin.attn_bias(4, 4, like=x) is None and sin.rope is None
    alibi = PositionalScheme("alibi", max_len=16, d_model=8, n_heads=2, causal=True)
    torch.testing.assert_close(alibi.attn_bias(2, 5, like=x.double()), alibi_bias(2, 2, 5).double())
    assert PositionalScheme("rope", max_len=16, d_model=8, n_heads=2, causal=True).rope.d_head == 4
    with pytest.raises(ValueError, match="choose one of"):
        PositionalScheme("xpos", max_len=16, d_model=8, n_heads=2, causal=True)
