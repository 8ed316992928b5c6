"""Encoder/decoder layers vs nn.TransformerEncoderLayer / nn.TransformerDecoderLayer with copied weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.blocks import DecoderLayer, EncoderLayer, FeedForward, LayerNorm, RMSNorm, make_norm
from core.masks import causal_mask, cross_mask, padding_mask
from tests.core.reference import copy_layer_into_torch

D_MODEL, N_HEADS, D_FF = 16, 4, 40
LAYER_CASES = [(norm_first, act) for norm_first in (False, True) for act in ("relu", "gelu")]


def reference(cls, ours, norm_first, activation):
    ref = cls(D_MODEL, N_HEADS, D_FF, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
    copy_layer_into_torch(ours, ref)
    return ref.train()  # training mode (dropout 0) keeps torch off its fused inference fast path


@pytest.mark.parametrize("norm_first, activation", LAYER_CASES)
@pytest.mark.parametrize("padded", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, padded):
    ours = EncoderLayer(D_MODEL, N_HEADS, D_FF, activation=activation, norm_first=norm_first)
    ref = reference(nn.TransformerEncoderLayer, ours, norm_first, activation)
    x, lengths = torch.randn(3, 9, D_MODEL), torch.tensor([9, 5, 1])
    mask = padding_mask(lengths, 9) if padded else None
    out, _ = ours(x, mask)
    expected = ref(x, src_key_padding_mask=None if mask is None else ~mask[:, 0, 0])
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("norm_first, activation", LAYER_CASES)
def test_decoder_layer_matches_torch(norm_first, activation):
    ours = DecoderLayer(D_MODEL, N_HEADS, D_FF, activation=activation, norm_first=norm_first)
    ref = reference(nn.TransformerDecoderLayer, ours, norm_first, activation)
    x, memory, src_lengths = torch.randn(2, 6, D_MODEL), torch.randn(2, 11, D_MODEL), torch.tensor([11, 4])
    out, trace = ours(x, memory, causal_mask(6), cross_mask(6, 11, src_lengths))
    expected = ref(x, memory, tgt_mask=~causal_mask(6), memory_key_padding_mask=~padding_mask(src_lengths, 11)[:, 0, 0])
    torch.testing.assert_close(out, expected)
    assert trace.cross_attn.weights.shape == (2, N_HEADS, 6, 11)
    assert torch.all(trace.cross_attn.weights[1, ..., 4:] == 0)  # padded source tokens get no attention


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_trace_is_the_residual_stream(norm_first):
    layer = DecoderLayer(D_MODEL, N_HEADS, D_FF, norm_first=norm_first).eval()
    x, memory = torch.randn(2, 5, D_MODEL), torch.randn(2, 3, D_MODEL)
    out, t = layer(x, memory, causal_mask(5))
    assert t.residual_in is x and t.residual_out is out
    attn_out = layer.self_attn.w_o(t.self_attn.concat)
    cross_out = layer.cross_attn.w_o(t.cross_attn.concat)
    ffn_in = layer.ff_norm(t.after_cross_attn) if norm_first else t.after_cross_attn
    if norm_first:  # x + f(norm(x))
        torch.testing.assert_close(t.after_self_attn, x + attn_out)
        torch.testing.assert_close(t.after_cross_attn, t.after_self_attn + cross_out)
        torch.testing.assert_close(out, t.after_cross_attn + layer.ff(ffn_in))
    else:  # norm(x + f(x))
        torch.testing.assert_close(t.after_self_attn, layer.self_attn_norm(x + attn_out))
        torch.testing.assert_close(out, layer.ff_norm(t.after_cross_attn + layer.ff(ffn_in)))


def test_decoder_layer_without_cross_attention_is_the_gpt_block():
    layer = DecoderLayer(D_MODEL, N_HEADS, D_FF, cross_attention=False, norm_first=True)
    out, trace = layer(torch.randn(1, 4, D_MODEL), self_mask=causal_mask(4))
    assert layer.cross_attn is None and trace.cross_attn is None and trace.after_cross_attn is None
    with pytest.raises(ValueError, match="memory"):
        DecoderLayer(D_MODEL, N_HEADS, D_FF)(torch.randn(1, 4, D_MODEL))


def test_layer_norm_and_rms_norm():
    x = torch.randn(3, 5, D_MODEL) * 3 + 1
    ln = LayerNorm(D_MODEL)
    nn.init.normal_(ln.weight), nn.init.normal_(ln.bias)
    torch.testing.assert_close(ln(x), F.layer_norm(x, (D_MODEL,), ln.weight, ln.bias, eps=1e-5))
    rms = RMSNorm(D_MODEL)
    nn.init.normal_(rms.weight)
    x64 = x.double()
    expected = rms.weight.double() * x64 / torch.sqrt(x64.pow(2).mean(-1, keepdim=True) + 1e-5)
    torch.testing.assert_close(rms(x), expected.float())
    assert isinstance(make_norm("rmsnorm", 4), RMSNorm)
    with pytest.raises(ValueError, match="choose one of"):
        make_norm("batchnorm", 4)


def test_gelu_tanh_is_gpt2s_approximation():
    ffn = FeedForward(D_MODEL, D_FF, "gelu_tanh")
    x = torch.randn(2, 3, D_MODEL)
    h = ffn.linear1(x)
    gpt2 = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))  # GPT-2's gelu, written out
    torch.testing.assert_close(ffn.hidden(x), gpt2)
    assert 0 < (ffn.hidden(x) - F.gelu(h)).abs().max() < 1e-3  # near the exact GELU, not equal to it


def test_swiglu_feed_forward():
    ffn = FeedForward(D_MODEL, D_FF, "swiglu")
    x = torch.randn(2, 3, D_MODEL)
    expected = ffn.linear2(
        F.silu(x @ ffn.gate.weight.T + ffn.gate.bias) * (x @ ffn.linear1.weight.T + ffn.linear1.bias)
    )
    torch.testing.assert_close(ffn(x), expected)
    assert ffn.hidden(x).shape == (2, 3, D_FF)
    with pytest.raises(ValueError, match="choose one of"):
        FeedForward(D_MODEL, D_FF, "tanh")


def test_dropout_is_active_only_in_training():
    layer = EncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.3)
    x = torch.randn(2, 5, D_MODEL)
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])
