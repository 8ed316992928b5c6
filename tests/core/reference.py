"""Independent references for the core tests: a float64 attention written here, and weight copies into torch's
own nn.MultiheadAttention / nn.TransformerEncoderLayer / nn.TransformerDecoderLayer."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from core.blocks import TransformerLayer
from core.multihead import MultiHeadAttention


def float64_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """softmax(QKᵀ/√d) V in float64, the softmax written out (shift by the row max, exp, divide by the sum).

    Returns (weights, output); a query with no visible key gets zero weights and zero output.
    """
    q, k, v = q.double(), k.double(), v.double()
    scores = torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(q.shape[-1])
    allowed = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask.expand_as(scores)
    neg_inf = torch.full_like(scores, -math.inf)
    row_max = torch.where(allowed, scores, neg_inf).amax(-1, keepdim=True).detach()  # a shift: softmax ignores it
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    unnormalised = torch.exp(torch.where(allowed, scores - row_max, neg_inf))  # exp(-inf) = 0 for masked keys
    total = unnormalised.sum(-1, keepdim=True)
    weights = torch.where(total > 0, unnormalised / torch.where(total > 0, total, 1.0), 0.0)
    return weights, torch.einsum("...qk,...kd->...qd", weights, v)


def copy_mha_into_torch(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    """Load our W_Q, W_K, W_V, W_O (and biases) into torch's packed in_proj / out_proj."""
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        if ours.w_q.bias is not None:
            ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
            ref.out_proj.bias.copy_(ours.w_o.bias)


def _copy_norm(ours: nn.Module, ref: nn.LayerNorm) -> None:
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)


def copy_layer_into_torch(ours: TransformerLayer, ref: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer) -> None:
    """Copy an EncoderLayer into nn.TransformerEncoderLayer or a DecoderLayer into nn.TransformerDecoderLayer."""
    copy_mha_into_torch(ours.self_attn, ref.self_attn)
    _copy_norm(ours.self_attn_norm, ref.norm1)
    ffn_norm = ref.norm2
    if ours.cross_attn is not None:
        copy_mha_into_torch(ours.cross_attn, ref.multihead_attn)
        _copy_norm(ours.cross_attn_norm, ref.norm2)
        ffn_norm = ref.norm3
    _copy_norm(ours.ff_norm, ffn_norm)
    with torch.no_grad():
        for mine, theirs in ((ours.ff.linear1, ref.linear1), (ours.ff.linear2, ref.linear2)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
