"""The key equality checks again on a CUDA GPU: same code, same answers (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.attention import attention
from core.blocks import DecoderLayer, EncoderLayer
from core.masks import causal_mask, combine_masks, cross_mask, padding_mask, sliding_window_mask
from core.models import DecoderConfig, DecoderOnlyModel, EncoderDecoderModel, Seq2SeqConfig
from core.multihead import MultiHeadAttention
from tests.core.reference import copy_layer_into_torch, copy_mha_into_torch, float64_attention

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; torch.cuda.is_available() is False"),
]
CUDA = torch.device("cuda")


@pytest.mark.parametrize("lq, lk", [(1, 1), (7, 7), (113, 113), (50, 113)])
@pytest.mark.parametrize("kind", ["none", "causal", "sliding_window", "causal+padding"])
def test_attention_matches_sdpa_and_float64_on_cuda(lq, lk, kind):
    q, k, v = (torch.randn(2, 3, n, 16, device=CUDA) for n in (lq, lk, lk))
    lengths = torch.tensor([lk, max(lk // 2, 1)], device=CUDA)
    mask = {
        "none": None,
        "causal": causal_mask(lq, lk, device=CUDA),
        "sliding_window": sliding_window_mask(lq, 4, lk, device=CUDA),
        "causal+padding": combine_masks(causal_mask(lq, lk, device=CUDA), padding_mask(lengths, lk)),
    }[kind]
    trace = attention(q, k, v, mask)
    assert trace.output.device.type == "cuda"
    ref_weights, ref_out = float64_attention(q, k, v, mask)
    torch.testing.assert_close(trace.weights, ref_weights.float())
    torch.testing.assert_close(trace.output, ref_out.float())
    has_key = torch.ones(2, 3, lq, dtype=torch.bool, device=CUDA) if mask is None else mask.expand(2, 3, lq, lk).any(-1)
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(trace.output[has_key], sdpa[has_key])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fully_masked_rows_in_half_precision(dtype):
    q, k, v = (torch.randn(2, 4, 6, 8, device=CUDA, dtype=dtype).requires_grad_() for _ in range(3))
    mask = padding_mask(torch.tensor([6, 0], device=CUDA), 6)
    trace = attention(q, k, v, mask)
    assert trace.output.dtype == dtype and not trace.output.isnan().any()
    assert torch.all(trace.output[1] == 0) and torch.all(trace.weights[1] == 0)
    trace.output.float().sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    _, ref_out = float64_attention(q, k, v, mask)
    torch.testing.assert_close(trace.output.double(), ref_out, atol=2e-2, rtol=2e-2)


def test_multihead_matches_torch_on_cuda():
    ours = MultiHeadAttention(32, 4).to(CUDA).eval()
    ref = nn.MultiheadAttention(32, 4, batch_first=True).to(CUDA).eval()
    copy_mha_into_torch(ours, ref)
    x, memory = torch.randn(2, 9, 32, device=CUDA), torch.randn(2, 5, 32, device=CUDA)
    src_lengths = torch.tensor([5, 2], device=CUDA)
    out, trace = ours(x, memory, cross_mask(9, 5, src_lengths))
    ref_out, ref_w = ref(x, memory, memory, key_padding_mask=~padding_mask(src_lengths, 5)[:, 0, 0],
                         average_attn_weights=False)  # fmt: skip
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(trace.weights, ref_w)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_match_torch_on_cuda(norm_first):
    x, memory = torch.randn(2, 7, 32, device=CUDA), torch.randn(2, 4, 32, device=CUDA)
    enc = EncoderLayer(32, 4, 64, activation="gelu", norm_first=norm_first).to(CUDA)
    ref_enc = nn.TransformerEncoderLayer(32, 4, 64, 0.0, "gelu", batch_first=True, norm_first=norm_first).to(CUDA)
    copy_layer_into_torch(enc, ref_enc)
    torch.testing.assert_close(enc(x)[0], ref_enc.train()(x))
    dec = DecoderLayer(32, 4, 64, norm_first=norm_first).to(CUDA)
    ref_dec = nn.TransformerDecoderLayer(32, 4, 64, 0.0, batch_first=True, norm_first=norm_first).to(CUDA)
    copy_layer_into_torch(dec, ref_dec)
    torch.testing.assert_close(dec(x, memory, causal_mask(7, device=CUDA))[0],
                               ref_dec.train()(x, memory, tgt_mask=~causal_mask(7, device=CUDA)))  # fmt: skip


@pytest.mark.parametrize("positional", ["sinusoidal", "rope", "alibi", "relative"])
def test_decoder_kv_cache_and_cpu_agreement_on_cuda(positional):
    cfg = DecoderConfig(vocab_size=50, d_model=32, n_heads=4, n_layers=2, d_ff=64, positional=positional, n_kv_heads=2)
    cpu_model = DecoderOnlyModel(cfg).eval()
    model = DecoderOnlyModel(cfg).to(CUDA).eval()
    model.load_state_dict(cpu_model.state_dict())
    tokens = torch.randint(0, 50, (2, 12))
    full = model(tokens.to(CUDA), return_trace=True)
    torch.testing.assert_close(full.logits.cpu(), cpu_model(tokens).logits, atol=1e-4, rtol=1e-4)
    caches = model.new_caches()
    for t in range(12):
        step = model(tokens[:, t : t + 1].to(CUDA), caches=caches, return_trace=True)
        torch.testing.assert_close(step.logits[:, 0], full.logits[:, t])
        torch.testing.assert_close(
            step.trace[-1].self_attn.weights[:, :, 0], full.trace[-1].self_attn.weights[:, :, t, : t + 1]
        )
    assert caches[0].k.device.type == "cuda"


def test_encoder_decoder_on_cuda():
    model = EncoderDecoderModel(Seq2SeqConfig(vocab_size=30, d_model=32, n_heads=4, positional="learned")).to(CUDA)
    src, tgt = torch.randint(0, 30, (2, 8), device=CUDA), torch.randint(0, 30, (2, 5), device=CUDA)
    out = model.eval()(src, tgt, src_lengths=torch.tensor([8, 3]), return_trace=True)
    assert out.logits.device.type == "cuda" and torch.all(out.trace[0].cross_attn.weights[1, ..., 3:] == 0)
