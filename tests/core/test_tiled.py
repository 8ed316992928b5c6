"""Tiled attention (core/tiled.py) against the naive reference and a float64 reference.

Both tiled paths (the teaching loop and the fast path) are compared with ``core.attention.naive_attention`` and
with ``tests.core.reference.float64_attention``; the error bound follows flash-attention's tests:
err(tiled fp32 vs float64) <= 2 · err(naive fp32 vs float64) + eps.
"""

from __future__ import annotations

import math

import pytest
import torch

from core.attention import naive_attention
from core.masks import causal_mask, combine_masks, padding_mask
from core.tiled import (
    normalize_output,
    online_softmax_step,
    tile_schedule,
    tiled_attention,
    tiled_attention_reference,
    trace_tiled_attention,
)
from tests.core.reference import float64_attention

LENGTHS = (1, 7, 113, 1000)
BLOCKS = (1, 3, 16, 64, "whole")
EPS = 1e-6  # a few fp32 ulps at |o| ~ 1: covers cases where naive fp32 happens to be (almost) exact


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def make_qkv(batch: int, heads: int, kv_heads: int, lq: int, lk: int, d: int = 16, seed: int = 0):
    """Random q (B, H, Lq, d), k/v (B, H_kv, Lk, d) in float32."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, lq, d, generator=gen)
    k = torch.randn(batch, kv_heads, lk, d, generator=gen)
    v = torch.randn(batch, kv_heads, lk, d, generator=gen)
    return q, k, v


def reference_mask(lq: int, lk: int, causal: bool, key_lengths) -> torch.Tensor | None:
    """The same masking as the tiled call, built with core.masks: (Lq, Lk) and/or (B, 1, 1, Lk)."""
    return combine_masks(
        causal_mask(lq, lk) if causal else None,
        padding_mask(torch.as_tensor(key_lengths), lk) if key_lengths is not None else None,
    )


def naive_outputs(q, k, v, causal=False, key_lengths=None):
    """(naive fp32 output, float64 reference output); GQA key/value heads repeated for the references."""
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, Lk, d)
    mask = reference_mask(q.shape[2], k.shape[2], causal, key_lengths)
    return naive_attention(q, k, v, mask), float64_attention(q, k, v, mask)[1]


def block_size(block, length: int) -> int:
    return length if block == "whole" else block


def assert_matches_references(out, q, k, v, causal=False, key_lengths=None) -> None:
    """Close to naive fp32 (fp32 tolerances) and error vs float64 at most 2x naive's own error + eps."""
    naive32, exact = naive_outputs(q, k, v, causal, key_lengths)
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out, naive32)
    err_tiled = (out.double() - exact).abs().max().item() if out.numel() else 0.0
    err_naive = (naive32.double() - exact).abs().max().item() if out.numel() else 0.0
    assert err_tiled <= 2 * err_naive + EPS, f"tiled error {err_tiled:.3g} vs naive fp32 error {err_naive:.3g}"


# --- fast path: the full sweep of lengths x blocks ---------------------------------------------------------------
# Block 1 and 3 run only for lengths <= 113: at length 1000 they are 10^5-10^6 tiles, each a handful of Python-level
# torch calls (~10 s or more per case), which would blow the file's < 60 s budget without testing anything new.
FAST_SWEEP = [(n, b) for n in LENGTHS for b in BLOCKS if not (b in (1, 3) and n > 113)]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize(("length", "block"), FAST_SWEEP)
def test_fast_path_matches_naive(length, block, causal):
    q, k, v = make_qkv(2, 4, 4, length, length)
    bs = block_size(block, length)
    out = tiled_attention(q, k, v, causal=causal, block_q=bs, block_k=bs)
    assert_matches_references(out, q, k, v, causal)


# --- teaching loop: one (batch, head) at a time, so it is slower per tile; the sweep is sized accordingly -------
# Block 1 and 3 only up to length 113 (as above); length 1000 with block 16/64/whole (at most ~4k tiles per head).
REFERENCE_SWEEP = [(n, b) for n in LENGTHS for b in BLOCKS if not (b in (1, 3) and n > 113)]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize(("length", "block"), REFERENCE_SWEEP)
def test_reference_loop_matches_naive(length, block, causal):
    q, k, v = make_qkv(1, 2, 2, length, length, seed=1)
    bs = block_size(block, length)
    out = tiled_attention_reference(q, k, v, causal=causal, block_q=bs, block_k=bs)
    assert_matches_references(out, q, k, v, causal)


@pytest.mark.parametrize(("lq", "lk"), [(7, 113), (113, 7), (1, 1000), (1000, 1), (113, 1000)])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("path", [tiled_attention, tiled_attention_reference], ids=["fast", "reference"])
def test_query_and_key_lengths_differ(lq, lk, causal, path):
    q, k, v = make_qkv(1, 2, 2, lq, lk, seed=2)
    out = path(q, k, v, causal=causal, block_q=16, block_k=24)  # blocks differ and divide neither length
    assert_matches_references(out, q, k, v, causal)


@pytest.mark.parametrize("kv_heads", [8, 2, 1], ids=["MHA", "GQA", "MQA"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("path", [tiled_attention, tiled_attention_reference], ids=["fast", "reference"])
def test_grouped_query_heads(kv_heads, causal, path):
    q, k, v = make_qkv(2, 8, kv_heads, 37, 45, seed=3)
    out = path(q, k, v, causal=causal, block_q=8, block_k=16)
    assert_matches_references(out, q, k, v, causal)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("path", [tiled_attention, tiled_attention_reference], ids=["fast", "reference"])
def test_key_padding_lengths(causal, path):
    q, k, v = make_qkv(3, 4, 2, 50, 50, seed=4)
    lengths = [50, 17, 0]  # full, padded, and a sequence with no real key at all
    out = path(q, k, v, causal=causal, key_lengths=torch.tensor(lengths), block_q=8, block_k=16)
    assert_matches_references(out, q, k, v, causal, lengths)
    assert torch.equal(out[2], torch.zeros_like(out[2]))  # no key -> zeros


@pytest.mark.parametrize("path", [tiled_attention, tiled_attention_reference], ids=["fast", "reference"])
def test_fully_masked_rows_are_zero_not_nan(path):
    # causal with Lq > Lk: the first Lq - Lk queries sit before every key and see nothing
    q, k, v = make_qkv(1, 2, 2, 20, 5, seed=5)
    out = path(q, k, v, causal=True, block_q=4, block_k=2)
    assert not torch.isnan(out).any()
    assert torch.equal(out[:, :, :15], torch.zeros_like(out[:, :, :15]))
    assert_matches_references(out, q, k, v, causal=True)


def test_very_negative_scores_in_rows_that_start_masked():
    # row 0 sees only key 0 (causal); its scores are ~ -1e4: a shortcut that took 0 as the running max of an
    # empty row would underflow e^(s - 0) to 0 and return zeros instead of v[0]
    q = torch.full((1, 1, 4, 2), 100.0)
    k = torch.full((1, 1, 4, 2), -100.0)
    v = torch.randn(1, 1, 4, 2)
    for path in (tiled_attention, tiled_attention_reference):
        out = path(q, k, v, causal=True, block_q=4, block_k=1)
        torch.testing.assert_close(out, naive_outputs(q, k, v, causal=True)[0])


def test_error_bound_against_float64_at_length_1000():
    q, k, v = make_qkv(1, 8, 8, 1000, 1000, d=64, seed=6)
    q = q * 3  # sharper softmax: larger running-max changes between tiles
    for causal in (False, True):
        assert_matches_references(tiled_attention(q, k, v, causal=causal), q, k, v, causal)


def test_default_blocks_tile_long_sequences():
    q, k, v = make_qkv(1, 8, 8, 1500, 1500, d=64, seed=7)  # 6 x 3 tiles with the 256 x 512 defaults
    assert_matches_references(tiled_attention(q, k, v), q, k, v)


def test_bfloat16_inputs_accumulate_in_float32():
    q, k, v = make_qkv(1, 2, 2, 300, 300, seed=8)
    out = tiled_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), block_q=64, block_k=64)
    assert out.dtype == torch.bfloat16
    exact = float64_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())[1]
    torch.testing.assert_close(out.double(), exact, atol=1e-2, rtol=1.6e-2)  # bf16 output rounding


def test_scale_argument():
    q, k, v = make_qkv(1, 2, 2, 30, 30, seed=9)
    expected = naive_attention(q, k, v, scale=0.3)
    for path in (tiled_attention, tiled_attention_reference):
        torch.testing.assert_close(path(q, k, v, scale=0.3, block_q=7, block_k=11), expected)


def test_shape_errors_say_what_is_wrong():
    q, k, v = make_qkv(1, 3, 2, 5, 5)
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        tiled_attention(q, k, v)
    with pytest.raises(ValueError, match="block sizes must be >= 1"):
        tiled_attention(q[:, :2], k, v, block_q=0)
    with pytest.raises(ValueError, match="one length per batch element"):
        tiled_attention(q[:, :2], k, v, key_lengths=[5, 5])


# --- the tile schedule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lq", "lk", "bq", "bk"), [(7, 7, 3, 2), (5, 12, 2, 5), (12, 5, 5, 2), (1, 1, 4, 4)])
def test_schedule_covers_every_pair_once_and_skips_only_fully_masked_tiles(lq, lk, bq, bk):
    allowed = causal_mask(lq, lk)
    covered = torch.zeros(lq, lk, dtype=torch.int64)
    for row in tile_schedule(lq, lk, bq, bk, causal=True):
        for tile in row:
            covered[tile.q_start : tile.q_stop, tile.k_start : tile.k_stop] += 1
            tile_has_visible_pair = bool(allowed[tile.q_start : tile.q_stop, tile.k_start : tile.k_stop].any())
            assert tile.causal_skip == (not tile_has_visible_pair)
    assert torch.equal(covered, torch.ones_like(covered))


# --- the step-by-step trace ---------------------------------------------------------------------------------------


def replay(trace, v_head: torch.Tensor) -> torch.Tensor:
    """Rebuild the output from the recorded tile scores alone: the online softmax over each query block's steps."""
    out = torch.zeros(trace.output.shape)
    state = None
    for step in trace.steps:
        q0, q1 = step.q_range
        if step.k_block == 0:
            state = (
                torch.full((q1 - q0, 1), -math.inf),
                torch.zeros(q1 - q0, 1),
                torch.zeros(q1 - q0, v_head.shape[-1]),
            )
        if not step.skipped:
            new = online_softmax_step(*state, step.scores, v_head[step.k_range[0] : step.k_range[1]])
            assert torch.equal(new.m[:, 0], step.m_after) and torch.equal(new.l[:, 0], step.l_after)
            assert torch.equal(new.rescale[:, 0], step.rescale)
            state = (new.m, new.l, new.acc)
        out[q0:q1] = normalize_output(state[2], state[1])
        assert torch.equal(out[q0:q1], step.partial_output)
    return out


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_trace_replays_to_the_exact_output(causal):
    q, k, v = make_qkv(2, 4, 2, 11, 13, d=8, seed=10)
    trace = trace_tiled_attention(q, k, v, batch=1, head=3, causal=causal, block_q=4, block_k=5)
    assert torch.equal(replay(trace, v[1, 1]), trace.output)  # head 3 reads kv head 3 // 2 = 1
    reference = tiled_attention_reference(q, k, v, causal=causal, block_q=4, block_k=5)
    assert torch.equal(trace.output, reference[1, 3])
    torch.testing.assert_close(trace.output, naive_outputs(q, k, v, causal)[0][1, 3])


def test_trace_steps_record_the_online_softmax():
    q, k, v = make_qkv(1, 1, 1, 9, 9, d=4, seed=11)
    trace = trace_tiled_attention(q[0, 0], k[0, 0], v[0, 0], causal=True, block_q=3, block_k=3)  # one head, (L, d)
    assert [(s.q_block, s.k_block) for s in trace.steps] == [(i, j) for i in range(3) for j in range(3)]
    assert [s.skipped for s in trace.steps] == [j > i for i in range(3) for j in range(3)]
    for step in trace.steps:
        if step.skipped:
            assert step.scores is None and torch.equal(step.m_after, step.m_before)
            continue
        assert step.scores.shape == (3, 3)
        torch.testing.assert_close(step.m_after, torch.maximum(step.m_before, step.scores.amax(-1)))
        torch.testing.assert_close(step.rescale, torch.exp(step.m_before - step.m_after))
        expected_l = step.rescale * step.l_before + torch.exp(step.scores - step.m_after[:, None]).sum(-1)
        torch.testing.assert_close(step.l_after, expected_l)
    last_steps = [s for s in trace.steps if s.k_block == 2]  # each query block's final partial output is the output
    torch.testing.assert_close(torch.cat([s.partial_output for s in last_steps]), trace.output)


@pytest.mark.cuda
def test_fast_path_on_cuda_matches_naive():
    q, k, v = (t.cuda() for t in make_qkv(2, 8, 2, 777, 1000, d=64, seed=12))
    for causal in (False, True):
        out = tiled_attention(q, k, v, causal=causal, key_lengths=torch.tensor([1000, 300]), block_q=128, block_k=256)
        assert_matches_references(out.cpu(), *(t.cpu() for t in (q, k, v)), causal, [1000, 300])
