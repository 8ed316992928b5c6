"""Efficient attention variants (core/efficient.py, core/block_sparse.py) against independent references.

- masked variants = core.attention with the pattern's mask; the patterns match brute-force definitions written here;
- every fast path (no (n, n) tensor) = the readable reference, in float64, over awkward sizes;
- linear attention = a float64 double-loop formula of itself; Linformer with k = n and identity projections = full
  attention; LSH with one bucket = full attention.
"""

from __future__ import annotations

import math

import pytest
import torch

from core import block_sparse as bs
from core.attention import attention, naive_attention
from core.efficient import (
    INFO,
    MASKED,
    VARIANTS,
    VariantParams,
    fast_variant_attention,
    linear_attention,
    linformer_attention,
    linformer_projection,
    lsh_buckets,
    lsh_mask,
    lsh_rotations,
    pattern_mask,
    relative_error,
    sweep_params,
    variant_attention,
    variant_inputs,
)
from core.masks import causal_mask, sliding_window_mask
from core.measure.memory_meter import measure_peak
from tests.core.reference import float64_attention

LENGTHS = (1, 2, 7, 16, 33)
PARAMS = (
    VariantParams(),
    VariantParams(window=1, stride=1, n_global=0, proj_k=1, n_buckets=2),
    VariantParams(window=3, stride=5, n_global=3, n_buckets=1),
    VariantParams(window=40, stride=7, n_global=40, proj_k=40, n_buckets=6, n_rounds=3),
)


def qkv(n: int, d: int = 8, lead: tuple[int, ...] = (2, 3), dtype=torch.float64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*lead, n, d, generator=gen, dtype=dtype) for _ in range(3))


def brute_force_mask(name: str, n: int, p: VariantParams) -> torch.Tensor:
    """The patterns as the papers state them, one (i, j) pair at a time."""
    out = torch.zeros(n, n, dtype=torch.bool)
    s, w, g = p.stride, p.window, p.n_global
    for i in range(n):
        for j in range(n):
            if name == "sliding_window":
                ok = 0 <= i - j < w if p.causal else abs(i - j) < w
            elif name == "strided":  # Child et al.: local band of s, plus positions a multiple of s away
                ok = abs(i - j) < s or (i - j) % s == 0
            elif name == "fixed":  # own block, plus the last c = 1 positions of every block
                ok = i // s == j // s or j % s == s - 1
            else:  # longformer: window, plus global tokens that attend to and are attended by all
                ok = abs(i - j) < w or i < g or j < g
            out[i, j] = ok and (j <= i or not p.causal)
    return out


# ------------------------------------------------------------------ masked variants


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", MASKED)
def test_patterns_match_their_definitions(name, n, causal):
    for p in PARAMS:
        p = VariantParams(**{**p.__dict__, "causal": causal})
        assert torch.equal(pattern_mask(name, n, p), brute_force_mask(name, n, p)), p


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [1, 3, 8, 50])
def test_sliding_window_equals_core_attention_with_sliding_window_mask(window, causal):
    q, k, v = qkv(21)
    p = VariantParams(window=window, causal=causal)
    expected = attention(q, k, v, sliding_window_mask(21, window, causal=causal))
    result = variant_attention("sliding_window", q, k, v, p)
    torch.testing.assert_close(result.output, expected.output)
    torch.testing.assert_close(result.weights, expected.weights)
    torch.testing.assert_close(fast_variant_attention("sliding_window", q, k, v, p), expected.output)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", MASKED)
def test_masked_variant_is_float64_attention_with_its_mask(name, n, causal):
    q, k, v = qkv(n)
    for p in PARAMS:
        p = VariantParams(**{**p.__dict__, "causal": causal})
        _, expected = float64_attention(q, k, v, brute_force_mask(name, n, p))
        torch.testing.assert_close(variant_attention(name, q, k, v, p).output, expected)
        torch.testing.assert_close(fast_variant_attention(name, q, k, v, p), expected)


@pytest.mark.parametrize("name", MASKED)
def test_masked_fast_paths_in_float32_with_one_head_inputs(name):
    q, k, v = qkv(50, 16, lead=(), dtype=torch.float32)
    p = VariantParams(window=6, stride=6, n_global=4)
    torch.testing.assert_close(fast_variant_attention(name, q, k, v, p), variant_attention(name, q, k, v, p).output)


@pytest.mark.parametrize("name", ["sliding_window", "strided", "fixed", "longformer", "linear", "linformer"])
def test_fast_paths_never_build_an_n_by_n_tensor(name):
    """Measured peak bytes grow about linearly in n (×2 n -> < ×2.5 bytes; an n² path gives ×4) and stay under one
    (n, n) float32 score matrix."""
    peaks = {}
    for n in (1024, 2048):
        q, k, v = qkv(n, 16, lead=(1, 1), dtype=torch.float32)
        peaks[n] = measure_peak(fast_variant_attention, name, q, k, v, sweep_params(n), device="cpu").peak_bytes
    assert peaks[2048] < 2.5 * peaks[1024], (name, peaks)
    assert peaks[2048] < 2048 * 2048 * 4, (name, peaks)


def test_joint_attention_of_one_full_key_list_is_full_attention():
    q, k, v = qkv(9)
    everything = bs.key_columns(q, k, v, index=torch.arange(9), mask=torch.ones(9, 9, dtype=torch.bool),
                                scale=1 / math.sqrt(8))
    torch.testing.assert_close(bs.joint_attention([everything]), naive_attention(q, k, v))


# ------------------------------------------------------------------ linear attention


def linear_attention_float64(q, k, v, causal: bool) -> torch.Tensor:
    """out_i = Σ_j φ(q_i)·φ(k_j) v_j / Σ_j φ(q_i)·φ(k_j), one query at a time, φ(x) = elu(x) + 1, in float64."""
    phi = lambda x: torch.where(x > 0, x + 1, torch.exp(x))  # noqa: E731  elu(x) + 1 written out
    q, k, v = q.double(), k.double(), v.double()
    out = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=torch.float64)
    for i in range(q.shape[-2]):
        keys = slice(0, i + 1) if causal else slice(None)
        sim = (phi(q[..., i:i + 1, :]) * phi(k[..., keys, :])).sum(-1)  # (..., j)
        out[..., i, :] = (sim[..., None] * v[..., keys, :]).sum(-2) / sim.sum(-1, keepdim=True)
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", [1, 5, 30])
def test_linear_attention_equals_its_float64_formula(n, causal):
    q, k, v = qkv(n, dtype=torch.float32)
    expected = linear_attention_float64(q, k, v, causal)
    torch.testing.assert_close(linear_attention(q, k, v, causal=causal).double(), expected, rtol=1e-5, atol=1e-5)
    result = variant_attention("linear", q, k, v, VariantParams(causal=causal))
    torch.testing.assert_close(result.output.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.weights.sum(-1), torch.ones(2, 3, n))  # rows of positive weights sum to 1
    assert (result.weights >= 0).all()


# ------------------------------------------------------------------ Linformer


def test_linformer_with_identity_projections_equals_full_attention():
    q, k, v = qkv(12)
    eye = torch.eye(12, dtype=torch.float64)
    output, probs = linformer_attention(q, k, v, eye, eye)
    torch.testing.assert_close(output, naive_attention(q, k, v))
    torch.testing.assert_close(probs, attention(q, k, v).weights)


def test_linformer_segment_means_with_k_equal_n_is_the_identity_and_full_attention():
    q, k, v = qkv(12)
    torch.testing.assert_close(linformer_projection(12, 12, 0, "pool"), torch.eye(12))
    result = variant_attention("linformer", q, k, v, VariantParams(proj_k=12, projection="pool"))
    torch.testing.assert_close(result.output, naive_attention(q, k, v))


@pytest.mark.parametrize("projection", ["random", "pool"])
def test_linformer_effective_weights_reproduce_its_output(projection):
    q, k, v = qkv(20)
    p = VariantParams(proj_k=5, projection=projection)
    result = variant_attention("linformer", q, k, v, p)
    torch.testing.assert_close(result.weights @ v, result.output)
    torch.testing.assert_close(fast_variant_attention("linformer", q, k, v, p), result.output)
    assert result.n_scores == 20 * 5


def test_linformer_projections_are_seeded_and_scaled():
    e = linformer_projection(400, 50, seed=3)
    torch.testing.assert_close(e, linformer_projection(400, 50, seed=3))
    assert abs(float(e.var()) - 1 / 50) < 0.1 / 50  # N(0, 1/k)
    pool = linformer_projection(10, 3, 0, "pool")
    torch.testing.assert_close(pool.sum(dim=1), torch.ones(3))


def test_linformer_has_no_causal_form():
    with pytest.raises(ValueError, match="causal"):
        variant_attention("linformer", *qkv(8), VariantParams(causal=True))


# ------------------------------------------------------------------ LSH


@pytest.mark.parametrize("causal", [False, True])
def test_lsh_with_one_bucket_equals_full_attention(causal):
    q, k, v = qkv(17)
    p = VariantParams(n_buckets=1, causal=causal)
    expected = naive_attention(q, k, v, causal_mask(17) if causal else None)
    torch.testing.assert_close(variant_attention("lsh", q, k, v, p).output, expected)
    torch.testing.assert_close(fast_variant_attention("lsh", q, k, v, p), expected)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_buckets", [2, 4, 8])
@pytest.mark.parametrize("n", [1, 9, 40])
def test_lsh_bucketed_path_equals_float64_attention_with_the_bucket_mask(n, n_buckets, causal):
    q, k, v = qkv(n)
    p = VariantParams(n_buckets=n_buckets, causal=causal, seed=n)
    mask = lsh_mask(q, k, p)
    _, expected = float64_attention(q, k, v, mask)
    torch.testing.assert_close(fast_variant_attention("lsh", q, k, v, p), expected)
    torch.testing.assert_close(variant_attention("lsh", q, k, v, p).output, expected)


def test_lsh_buckets_follow_direction_and_rounds_only_add_pairs():
    rot = lsh_rotations(8, 4, 3, seed=0)
    x = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(lsh_buckets(x, rot), lsh_buckets(3.0 * x, rot))  # hashing sees the direction only
    assert lsh_buckets(x, rot).shape == (3, 10) and int(lsh_buckets(x, rot).max()) < 4
    q, k, _ = qkv(30, lead=())
    one = lsh_mask(q, k, VariantParams(n_buckets=4, n_rounds=1))
    three = lsh_mask(q, k, VariantParams(n_buckets=4, n_rounds=3))
    assert bool((three | ~one).all()) and int(three.sum()) >= int(one.sum())  # round 1 is one of the three


def test_a_query_whose_bucket_has_no_key_gets_zero_not_nan():
    q = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)  # opposite directions: different buckets
    k = torch.tensor([[1.0, 0.0], [1.0, 0.01]], dtype=torch.float64)
    v = torch.ones(2, 2, dtype=torch.float64)
    p = VariantParams(n_buckets=2, seed=0)
    out = fast_variant_attention("lsh", q, k, v, p)
    ref = variant_attention("lsh", q, k, v, p).output
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref)
    empty_rows = ~lsh_mask(q, k, p).any(-1)
    assert empty_rows.any() and (out[empty_rows] == 0).all()


def test_lsh_bucketed_path_hashes_once():
    with pytest.raises(ValueError, match="n_rounds=1"):
        from core.efficient import lsh_attention

        lsh_attention(*qkv(8), VariantParams(n_rounds=2))


# ------------------------------------------------------------------ shared contract


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", [v for v in VARIANTS if v != "linformer"])
def test_effective_weights_reproduce_each_output(name, causal):
    q, k, v = qkv(15)
    result = variant_attention(name, q, k, v, VariantParams(causal=causal))
    torch.testing.assert_close(result.weights @ v, result.output)
    if result.mask is not None:  # nothing outside the pattern carries weight
        assert (result.weights.masked_select(~result.mask.expand_as(result.weights)) == 0).all()
        total = int(result.mask.expand_as(result.weights).sum())  # over the 2·3 (batch, head) pairs
        assert result.n_scores == total // 6  # per head (LSH buckets differ by head: the mean)


def test_full_variant_is_naive_attention_and_counts_n_squared():
    q, k, v = qkv(10)
    result = variant_attention("full", q, k, v)
    torch.testing.assert_close(result.output, naive_attention(q, k, v))
    assert result.n_scores == 100 and relative_error(result.output, result.output) == 0.0


def test_every_variant_has_honest_info():
    assert set(INFO) == set(VARIANTS)
    assert {INFO[v].kind for v in MASKED} == {"different mask"}
    assert {INFO[v].kind for v in ("linear", "linformer", "lsh")} == {"approximates softmax"}


@pytest.mark.parametrize("bad", [{"window": 0}, {"stride": 0}, {"proj_k": 0}, {"n_rounds": 0}, {"n_global": -1},
                                 {"n_buckets": 3}, {"n_buckets": 0}, {"projection": "learned"}])
def test_invalid_params_are_refused_with_a_message(bad):
    with pytest.raises(ValueError):
        VariantParams(**bad)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        variant_attention("magic", *qkv(4))
    with pytest.raises(ValueError, match="unknown variant"):
        fast_variant_attention("magic", *qkv(4))


def test_inputs_are_seeded_and_local_inputs_are_local():
    a = variant_inputs(32, 16, "local", torch.Generator().manual_seed(0))
    b = variant_inputs(32, 16, "local", torch.Generator().manual_seed(0))
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)
    weights = attention(a[0], a[1], a[2]).weights  # (32, 32)
    distance = (torch.arange(32)[:, None] - torch.arange(32)[None, :]).abs().float()
    assert float((weights * distance).sum(-1).mean()) < 3.0  # mean attended distance: a few tokens
    with pytest.raises(ValueError):
        variant_inputs(4, 4, "sorted", torch.Generator())


def test_sweep_params_are_valid_at_every_length():
    for n in (128, 256, 1000, 4096, 16384):
        p = sweep_params(n)
        assert p.n_buckets % 2 == 0 and n / p.n_buckets <= 128


# ------------------------------------------------------------------ CUDA (skipped without a GPU)


@pytest.mark.cuda
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", [v for v in VARIANTS if v != "linformer"] + ["linformer"])
def test_fast_paths_on_cuda_equal_the_cpu_reference(name, causal):
    if name == "linformer" and causal:
        pytest.skip("Linformer has no causal form")
    q, k, v = qkv(77, 16)
    p = VariantParams(window=5, stride=6, n_global=3, proj_k=9, n_buckets=4, causal=causal)
    expected = variant_attention(name, q, k, v, p).output
    on_gpu = fast_variant_attention(name, q.cuda(), k.cuda(), v.cuda(), p)
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu(), expected)


@pytest.mark.cuda
def test_sweep_sizes_run_on_cuda_in_float16():
    n = 4096
    q, k, v = (x.cuda().half() for x in qkv(n, 64, lead=(1, 4), dtype=torch.float32))
    full = naive_attention(q.float(), k.float(), v.float())
    for name in VARIANTS:
        out = fast_variant_attention(name, q, k, v, sweep_params(n))
        assert out.shape == full.shape and torch.isfinite(out).all(), name
