"""MultiHeadAttention vs torch's nn.MultiheadAttention with copied weights; GQA/MQA; the KV cache."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from core.attention import AttentionTrace, attention
from core.masks import causal_mask, combine_masks, cross_mask, padding_mask
from core.multihead import HeadsTrace, KVCache, MultiHeadAttention
from core.positional import RotaryEmbedding
from tests.core.reference import copy_mha_into_torch

D_MODEL, N_HEADS = 24, 4


def torch_mha(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.d_model, ours.n_heads, bias=ours.w_q.bias is not None, batch_first=True)
    copy_mha_into_torch(ours, ref)
    return ref.eval()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "causal+padding"])
def test_self_attention_matches_torch(bias, mask_kind):
    ours = MultiHeadAttention(D_MODEL, N_HEADS, bias=bias).eval()
    ref = torch_mha(ours)
    x, lengths = torch.randn(3, 7, D_MODEL), torch.tensor([7, 4, 1])
    causal = causal_mask(7) if "causal" in mask_kind else None
    pad = padding_mask(lengths, 7) if "padding" in mask_kind else None
    out, trace = ours(x, mask=combine_masks(causal, pad))
    ref_out, ref_weights = ref(
        x, x, x,
        attn_mask=None if causal is None else ~causal,
        key_padding_mask=None if pad is None else ~pad[:, 0, 0],
        average_attn_weights=False,
    )  # fmt: skip
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(trace.weights, ref_weights)


@pytest.mark.parametrize("lq, lk", [(1, 9), (5, 9), (9, 2)])
def test_cross_attention_matches_torch(lq, lk):
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    ref = torch_mha(ours)
    x, memory, src_lengths = torch.randn(2, lq, D_MODEL), torch.randn(2, lk, D_MODEL), torch.tensor([lk, 1])
    out, trace = ours(x, memory, cross_mask(lq, lk, src_lengths))
    ref_out, ref_weights = ref(x, memory, memory, key_padding_mask=~padding_mask(src_lengths, lk)[:, 0, 0],
                               average_attn_weights=False)  # fmt: skip
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(trace.weights, ref_weights)
    assert trace.weights.shape == (2, N_HEADS, lq, lk)


def test_heads_trace_holds_each_head():
    mha = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    x = torch.randn(2, 5, D_MODEL)
    out, t = mha(x, mask=causal_mask(5))
    d_k = D_MODEL // N_HEADS
    assert t.q.shape == t.k.shape == t.v.shape == t.heads_out.shape == (2, N_HEADS, 5, d_k)
    assert t.masked_scores.shape == t.weights.shape == (2, N_HEADS, 5, 5) and t.concat.shape == (2, 5, D_MODEL)
    head = 2  # head h reads columns h·d_k .. (h+1)·d_k of the projections
    torch.testing.assert_close(t.q[:, head], mha.w_q(x)[..., head * d_k : (head + 1) * d_k])
    torch.testing.assert_close(t.raw_scores, t.q @ t.k.transpose(-2, -1))
    torch.testing.assert_close(t.heads_out, t.weights @ t.v)
    torch.testing.assert_close(t.concat[..., head * d_k : (head + 1) * d_k], t.heads_out[:, head])
    torch.testing.assert_close(out, mha.w_o(t.concat))
    assert torch.isinf(t.masked_scores[..., 0, 1:]).all()  # masked scores are -inf


def gqa_as_mha(gqa: MultiHeadAttention) -> MultiHeadAttention:
    """An ordinary MHA whose key/value heads are copies of the GQA's shared ones (head h uses kv head h // group)."""
    mha = MultiHeadAttention(gqa.d_model, gqa.n_heads)
    group = gqa.n_heads // gqa.n_kv_heads
    with torch.no_grad():
        for name in ("w_q", "w_o"):
            getattr(mha, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("w_k", "w_v"):
            src, dst = getattr(gqa, name), getattr(mha, name)
            dst.weight.copy_(src.weight.view(gqa.n_kv_heads, gqa.d_k, -1).repeat_interleave(group, 0).flatten(0, 1))
            dst.bias.copy_(src.bias.view(gqa.n_kv_heads, gqa.d_k).repeat_interleave(group, 0).flatten())
    return mha


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_grouped_query_attention_equals_mha_with_shared_kv_weights(n_kv_heads):
    gqa = MultiHeadAttention(D_MODEL, N_HEADS, n_kv_heads=n_kv_heads)
    assert gqa.w_k.out_features == n_kv_heads * (D_MODEL // N_HEADS)
    x = torch.randn(2, 6, D_MODEL)
    out, trace = gqa(x, mask=causal_mask(6))
    ref_out, ref_trace = gqa_as_mha(gqa)(x, mask=causal_mask(6))
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(trace.weights, ref_trace.weights)
    if n_kv_heads == N_HEADS:  # plain MHA: also torch's implementation
        torch.testing.assert_close(out, torch_mha(gqa)(x, x, x, attn_mask=~causal_mask(6))[0])


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
@pytest.mark.parametrize("use_rope", [False, True])
def test_kv_cache_token_by_token_equals_full_forward(n_kv_heads, use_rope):
    mha = MultiHeadAttention(D_MODEL, N_HEADS, n_kv_heads=n_kv_heads).eval()
    rope = RotaryEmbedding(D_MODEL // N_HEADS) if use_rope else None
    x = torch.randn(2, 8, D_MODEL)
    full, full_trace = mha(x, mask=causal_mask(8), rope=rope)
    cache = KVCache()
    prefill, _ = mha(x[:, :3], mask=causal_mask(3), cache=cache, rope=rope)  # a 3-token prompt, then one at a time
    torch.testing.assert_close(prefill, full[:, :3])
    for t in range(3, 8):
        step, step_trace = mha(x[:, t : t + 1], mask=causal_mask(1, t + 1), cache=cache, rope=rope)
        torch.testing.assert_close(step, full[:, t : t + 1])
        torch.testing.assert_close(step_trace.weights[:, :, 0], full_trace.weights[:, :, t, : t + 1])
    d_k = D_MODEL // N_HEADS
    assert cache.length == 8 and cache.k.shape == (2, n_kv_heads, 8, d_k)
    assert cache.nbytes == 2 * 2 * n_kv_heads * 8 * d_k * 4  # k and v, float32


def test_kv_cache_rejects_cross_attention():
    mha = MultiHeadAttention(D_MODEL, N_HEADS)
    with pytest.raises(ValueError, match="self-attention"):
        mha(torch.randn(1, 2, D_MODEL), torch.randn(1, 3, D_MODEL), cache=KVCache())


def test_empty_cache():
    assert KVCache().length == 0 and KVCache().nbytes == 0


def test_bad_head_counts_say_what_would_work():
    with pytest.raises(ValueError, match=r"n_heads that work with d_model=10: \[1, 2, 5, 10\].*8 or 12"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=r"n_kv_heads that work: \[1, 2, 4\]"):
        MultiHeadAttention(16, 4, n_kv_heads=3)


def test_dropout_only_in_training():
    mha = MultiHeadAttention(D_MODEL, N_HEADS, dropout=0.5)
    x = torch.randn(1, 6, D_MODEL)
    assert not torch.equal(mha(x)[0], mha(x)[0])
    mha.eval()
    assert torch.equal(mha(x)[0], mha(x)[0])


@settings(max_examples=20, deadline=None)
@given(length=st.integers(2, 10), n_kv_heads=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_property_self_attention_without_positions_is_permutation_equivariant(length, n_kv_heads, seed):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(D_MODEL, N_HEADS, n_kv_heads=n_kv_heads).eval()
    x = torch.randn(2, length, D_MODEL)
    perm = torch.randperm(length)
    out, trace = mha(x)
    out_perm, trace_perm = mha(x[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm])
    torch.testing.assert_close(trace_perm.weights, trace.weights[:, :, perm][..., perm])


def test_traces_share_names_and_order_and_carry_their_scale():
    single = [f.name for f in dataclasses.fields(AttentionTrace)]
    heads = [f.name for f in dataclasses.fields(HeadsTrace)]
    shared = [name for name in heads if name in single]
    assert shared == [name for name in single if name in heads] == ["raw_scores", "masked_scores", "weights", "scale"]
    _, trace = MultiHeadAttention(D_MODEL, N_HEADS)(torch.randn(2, 5, D_MODEL))
    assert trace.scale == 1 / math.sqrt(D_MODEL // N_HEADS)
    q, k, v = torch.randn(3, 9), torch.randn(4, 9), torch.randn(4, 2)
    assert attention(q, k, v).scale == 1 / 3
    assert attention(q, k, v, scoring="dot").scale == 1.0 and attention(q, k, v, scale=0.5).scale == 0.5
    torch.testing.assert_close(attention(q, k, v).scaled_scores, attention(q, k, v).raw_scores / 3)
