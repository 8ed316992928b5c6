"""attention() against torch's fused SDPA and a float64 reference written in the test, across every mask."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.attention import AdditiveScorer, MultiplicativeScorer, attention, masked_softmax, naive_attention
from core.masks import causal_mask, combine_masks, cross_mask, padding_mask, prefix_lm_mask, sliding_window_mask
from tests.core.reference import float64_attention

B, H, D_K, D_V = 2, 3, 16, 8
SHAPES = [(1, 1), (7, 7), (113, 113), (3, 1), (4, 7), (7, 3), (50, 113)]  # (Lq, Lk)
MASKS = ["none", "causal", "padding", "sliding_window", "prefix_lm", "cross", "causal+padding"]


def build_mask(kind: str, lq: int, lk: int) -> torch.Tensor | None:
    """Masks broadcastable to (B, H, Lq, Lk); padding lengths include an empty row (every key masked)."""
    lengths = torch.tensor([lk, max(lk // 2, 1)])
    if kind == "padding":
        lengths = torch.tensor([lk, 0])  # batch 1 has no real key at all: fully masked rows
    return {
        "none": lambda: None,
        "causal": lambda: causal_mask(lq, lk),
        "padding": lambda: padding_mask(lengths, lk),
        "sliding_window": lambda: sliding_window_mask(lq, 3, lk),
        "prefix_lm": lambda: prefix_lm_mask(lq, lq // 3),
        "cross": lambda: cross_mask(lq, lk, lengths),
        "causal+padding": lambda: combine_masks(causal_mask(lq, lk), padding_mask(lengths, lk)),
    }[kind]()


def qkv(lq: int, lk: int, dtype=torch.float32):
    return (
        torch.randn(B, H, lq, D_K, dtype=dtype),
        torch.randn(B, H, lk, D_K, dtype=dtype),
        torch.randn(B, H, lk, D_V, dtype=dtype),
    )


CASES = [(kind, lq, lk) for kind in MASKS for lq, lk in SHAPES if kind != "prefix_lm" or lq == lk]


@pytest.mark.parametrize("kind, lq, lk", CASES)
def test_matches_float64_reference(kind, lq, lk):
    q, k, v = qkv(lq, lk)
    mask = build_mask(kind, lq, lk)
    trace = attention(q, k, v, mask)
    ref_weights, ref_out = float64_attention(q, k, v, mask)
    torch.testing.assert_close(trace.weights, ref_weights.float())
    torch.testing.assert_close(trace.output, ref_out.float())


@pytest.mark.parametrize("kind, lq, lk", CASES)
def test_matches_torch_sdpa(kind, lq, lk):
    q, k, v = qkv(lq, lk)
    mask = build_mask(kind, lq, lk)
    ours = attention(q, k, v, mask).output
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    has_key = torch.ones(B, H, lq, dtype=torch.bool) if mask is None else mask.expand(B, H, lq, lk).any(-1)
    torch.testing.assert_close(ours[has_key], theirs[has_key])  # SDPA's fully masked rows are undefined (NaN)
    assert torch.all(ours[~has_key] == 0)


def test_trace_fields_are_each_step():
    q, k, v = qkv(5, 6)
    mask = causal_mask(5, 6)
    trace = attention(q, k, v, mask, temperature=2.0)
    raw = q @ k.transpose(-2, -1)
    torch.testing.assert_close(trace.raw_scores, raw)
    torch.testing.assert_close(trace.scaled_scores, raw / math.sqrt(D_K) / 2.0)
    assert torch.equal(trace.masked_scores[..., ~mask], torch.full_like(trace.masked_scores[..., ~mask], -math.inf))
    assert torch.equal(trace.masked_scores[..., mask], trace.scaled_scores[..., mask])
    torch.testing.assert_close(trace.weights, torch.softmax(trace.masked_scores, -1))
    torch.testing.assert_close(trace.output, trace.weights @ v)


def test_dot_scoring_and_temperature():
    q, k, v = qkv(4, 4)
    dot = attention(q, k, v, scoring="dot")
    torch.testing.assert_close(dot.weights, torch.softmax(q @ k.transpose(-2, -1), -1))
    # temperature √d_k on plain dot scores is exactly scaled-dot attention
    torch.testing.assert_close(attention(q, k, v, scoring="dot", temperature=math.sqrt(D_K)).weights,
                               attention(q, k, v).weights)  # fmt: skip
    hot = attention(q, k, v, temperature=100.0).weights
    assert (hot - 1 / 4).abs().max() < 0.05  # high temperature -> nearly uniform


def test_additive_scoring_is_bahdanau():
    scorer = AdditiveScorer(d_q=D_K, d_k=D_K, d_hidden=5)
    q, k, v = qkv(3, 4)
    trace = attention(q, k, v, scoring="additive", scorer=scorer)
    w1, w2, vec = (m.weight.double() for m in (scorer.w_q, scorer.w_k, scorer.v))
    expected = torch.empty(B, H, 3, 4, dtype=torch.float64)
    for i in range(3):
        for j in range(4):  # vᵀ tanh(W₁ q_i + W₂ k_j), one pair at a time
            expected[..., i, j] = torch.tanh(q[..., i, :].double() @ w1.T + k[..., j, :].double() @ w2.T) @ vec[0]
    torch.testing.assert_close(trace.raw_scores, expected.float())
    torch.testing.assert_close(trace.scaled_scores, trace.raw_scores)  # additive scores are not scaled
    torch.testing.assert_close(trace.output, torch.softmax(expected, -1).float() @ v)


def test_multiplicative_scoring_is_luong_general():
    q, k, v = qkv(3, 4)
    identity = MultiplicativeScorer(D_K, D_K)
    torch.testing.assert_close(attention(q, k, v, scoring="multiplicative", scorer=identity).raw_scores,
                               q @ k.transpose(-2, -1))  # fmt: skip
    scorer = MultiplicativeScorer(D_K, 6)
    k6 = torch.randn(B, H, 4, 6)
    expected = torch.einsum("bhid,de,bhje->bhij", q.double(), scorer.weight.double(), k6.double())
    torch.testing.assert_close(attention(q, k6, v, scoring="multiplicative", scorer=scorer).raw_scores,
                               expected.float())  # fmt: skip


def test_bias_is_added_to_scaled_scores():
    q, k, v = qkv(5, 5)
    bias = torch.randn(H, 5, 5)
    mask = causal_mask(5)
    ours = attention(q, k, v, mask, bias=bias).output
    additive = bias.masked_fill(~mask, -math.inf)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=additive))


def test_naive_attention_with_custom_scale():
    q, k, v = qkv(6, 9)
    torch.testing.assert_close(naive_attention(q, k, v, causal_mask(6, 9), scale=0.3),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(6, 9), scale=0.3))  # fmt: skip


def test_dropout_drops_weights_but_trace_keeps_them():
    q, k, v = qkv(4, 4)
    torch.manual_seed(1)
    trace = attention(q, k, v, dropout_p=0.5)
    torch.manual_seed(1)
    dropped = F.dropout(trace.weights, 0.5)
    torch.testing.assert_close(trace.output, dropped @ v)
    torch.testing.assert_close(trace.weights.sum(-1), torch.ones(B, H, 4))


def test_fully_masked_rows_give_zeros_without_nan_in_values_or_gradients():
    q, k, v = (t.requires_grad_() for t in qkv(4, 6))
    mask = padding_mask(torch.tensor([6, 0]), 6).expand(B, H, 4, 6).clone()  # batch 1: no key at all
    mask[0, :, 2] = False  # one more empty row inside a non-empty batch element
    trace = attention(q, k, v, mask)
    assert not any(t.isnan().any() for t in (trace.weights, trace.output))
    assert torch.all(trace.weights[1] == 0) and torch.all(trace.output[1] == 0)
    assert torch.all(trace.weights[0, :, 2] == 0) and torch.all(trace.output[0, :, 2] == 0)
    (trace.output * torch.randn_like(trace.output)).sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert torch.all(q.grad[1] == 0) and torch.all(q.grad[0, :, 2] == 0) and torch.all(k.grad[1] == 0)


def test_gradients_match_float64_reference():
    q, k, v = (t.requires_grad_() for t in qkv(7, 5))
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    mask = combine_masks(causal_mask(7, 5), padding_mask(torch.tensor([5, 3]), 5))
    upstream = torch.randn(B, H, 7, D_V)
    (attention(q, k, v, mask).output * upstream).sum().backward()
    (float64_attention(q64, k64, v64, mask)[1] * upstream.double()).sum().backward()
    for ours, ref in ((q, q64), (k, k64), (v, v64)):
        torch.testing.assert_close(ours.grad, ref.grad.float())


def test_bad_inputs_are_explained():
    q, k, v = qkv(2, 2)
    with pytest.raises(ValueError, match="AdditiveScorer"):
        attention(q, k, v, scoring="additive")
    with pytest.raises(ValueError, match="choose one of"):
        attention(q, k, v, scoring="cosine")
    with pytest.raises(ValueError, match="temperature"):
        attention(q, k, v, temperature=0)
    with pytest.raises(TypeError, match="boolean"):
        masked_softmax(q @ k.transpose(-2, -1), torch.ones(2, 2))
    with pytest.raises(ValueError, match="same width"):
        attention(q, torch.randn(B, H, 2, 3), v)


dims = st.integers(min_value=1, max_value=12)


@settings(max_examples=25, deadline=None)
@given(lq=dims, lk=dims, seed=st.integers(0, 2**16), drop=st.floats(0, 0.9))
def test_property_rows_sum_to_one_except_fully_masked(lq, lk, seed, drop):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (
        torch.randn(2, lq, 4, generator=gen),
        torch.randn(2, lk, 4, generator=gen),
        torch.randn(2, lk, 3, generator=gen),
    )
    mask = torch.rand(2, lq, lk, generator=gen) >= drop
    weights = attention(q, k, v, mask).weights
    sums = weights.sum(-1)
    has_key = mask.any(-1)
    torch.testing.assert_close(sums[has_key], torch.ones_like(sums[has_key]))
    assert torch.all(sums[~has_key] == 0) and torch.all(weights[~mask] == 0)


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 16), seed=st.integers(0, 2**16), scale=st.floats(0.1, 30))
def test_property_causal_weights_above_diagonal_are_exactly_zero(length, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, length, 8, generator=gen) * scale
    weights = attention(x, x, x, causal_mask(length)).weights[0]
    assert torch.all(weights.triu(diagonal=1) == 0)
    assert torch.all(weights.diagonal()[:1] == 1)  # the first token can only look at itself
