"""Transformer building blocks: feed-forward, normalisation, residual sub-layers, encoder and decoder layers.

A layer is a stack of residual sub-layers around the residual stream x ``(B, T, d_model)``:

    post-LN (2017 paper, norm_first=False):  x = Norm(x + Dropout(Sublayer(x)))
    pre-LN  (GPT-2 and later, norm_first=True): x = x + Dropout(Sublayer(Norm(x)))

Encoder layer: self-attention, FFN. Decoder layer: masked self-attention, cross-attention, FFN (the cross-attention
is optional, so a decoder-only model uses the same layer without it). Each layer returns a :class:`LayerTrace`.
A :class:`TransformerStack` is what every model family runs: positions, N layers, the final norm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.multihead import HeadsTrace, KVCache, MultiHeadAttention
from core.positional import PositionalScheme, RotaryEmbedding

if TYPE_CHECKING:
    from core.models import TransformerConfig

ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "gelu_tanh", "swiglu")
NORMS: tuple[str, ...] = ("layernorm", "rmsnorm")


class FeedForward(nn.Module):
    """Position-wise FFN, the same MLP at every position: ``(B, T, d_model) -> (B, T, d_model)``.

    relu / gelu:  FFN(x) = W₂ · Dropout(act(W₁ x + b₁)) + b₂      gelu(x) = x · Φ(x), Φ the normal CDF
    gelu_tanh:    the same with GPT-2's approximation Φ(x) ≈ ½(1 + tanh(√(2/π) (x + 0.044715 x³)))
    swiglu:       FFN(x) = W₂ · Dropout(SiLU(W_g x) ⊙ W₁ x)       (Shazeer 2020, used by LLaMA)
    """

    def __init__(
        self, d_model: int, d_ff: int, activation: str = "relu", *, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)  # W₁
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if activation == "swiglu" else None  # W_g
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)  # W₂
        self.dropout = nn.Dropout(dropout)

    def hidden(self, x: Tensor) -> Tensor:
        """The d_ff-wide activations (what the "neurons" of the layer output): ``(B, T, d_ff)``."""
        if self.gate is not None:
            return F.silu(self.gate(x)) * self.linear1(x)
        if self.activation == "relu":
            return F.relu(self.linear1(x))
        return F.gelu(self.linear1(x), approximate="tanh" if self.activation == "gelu_tanh" else "none")

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.hidden(x)))  # (B, T, d_model)


class LayerNorm(nn.Module):
    """LayerNorm(x) = γ ⊙ (x - mean(x)) / √(var(x) + ε) + β, over the last dimension (biased variance)."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # γ
        self.bias = nn.Parameter(torch.zeros(d_model))  # β

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias


class RMSNorm(nn.Module):
    """RMSNorm(x) = γ ⊙ x / √(mean(x²) + ε): LayerNorm without centring or bias (Zhang & Sennrich 2019)."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # γ

    def forward(self, x: Tensor) -> Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)


def make_norm(kind: str, d_model: int, eps: float = 1e-5) -> nn.Module:
    """A norm by name: "layernorm" -> :class:`LayerNorm`, "rmsnorm" -> :class:`RMSNorm`."""
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}; choose one of {NORMS}")
    return LayerNorm(d_model, eps) if kind == "layernorm" else RMSNorm(d_model, eps)


@dataclass(frozen=True)
class LayerTrace:
    """One layer's attention traces and its residual stream ``(B, T, d_model)`` before/after each sub-layer.

    residual_in -> [self-attention] -> after_self_attn -> [cross-attention] -> after_cross_attn -> [FFN]
    -> residual_out. Encoder and decoder-only layers have no cross-attention (``None`` fields).
    """

    self_attn: HeadsTrace
    cross_attn: HeadsTrace | None
    residual_in: Tensor
    after_self_attn: Tensor
    after_cross_attn: Tensor | None
    residual_out: Tensor


class TransformerLayer(nn.Module):
    """Self-attention, optional cross-attention, FFN; each a residual sub-layer (post-LN or pre-LN)."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        *,
        cross_attention: bool,
        dropout: float = 0.0,
        activation: str = "relu",
        norm_first: bool = False,
        norm: str = "layernorm",
        n_kv_heads: int | None = None,
        bias: bool = True,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, n_kv_heads=n_kv_heads, bias=bias, dropout=dropout)
        self.self_attn_norm = make_norm(norm, d_model, eps)
        if cross_attention:
            self.cross_attn = MultiHeadAttention(d_model, n_heads, n_kv_heads=n_kv_heads, bias=bias, dropout=dropout)
            self.cross_attn_norm = make_norm(norm, d_model, eps)
        else:
            self.cross_attn = self.cross_attn_norm = None
        self.ff = FeedForward(d_model, d_ff, activation, dropout=dropout, bias=bias)
        self.ff_norm = make_norm(norm, d_model, eps)
        self.dropout = nn.Dropout(dropout)  # on each sub-layer's output, before the residual add

    def residual(
        self, x: Tensor, norm: nn.Module, sublayer: Callable[[Tensor], tuple[Tensor, HeadsTrace | None]]
    ) -> tuple[Tensor, HeadsTrace | None]:
        """post-LN: Norm(x + Dropout(f(x)));  pre-LN: x + Dropout(f(Norm(x))).  ``(B, T, d_model)``."""
        out, trace = sublayer(norm(x) if self.norm_first else x)
        x = x + self.dropout(out)
        return (x if self.norm_first else norm(x)), trace

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        rope: RotaryEmbedding | None = None,
        attn_bias: Tensor | None = None,
    ) -> tuple[Tensor, LayerTrace]:
        """x ``(B, T, d_model)``, memory (encoder output) ``(B, S, d_model)`` -> ``(x (B, T, d_model), LayerTrace)``.

        self_mask ``(.., T, T_total)`` and memory_mask ``(.., T, S)`` are bool masks (True = may attend);
        cache / rope / attn_bias go to the self-attention (see :class:`MultiHeadAttention`).
        """
        residual_in = x
        x, self_trace = self.residual(
            x,
            self.self_attn_norm,
            lambda h: self.self_attn(h, mask=self_mask, cache=cache, rope=rope, attn_bias=attn_bias),
        )
        after_self, cross_trace, after_cross = x, None, None
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("a decoder layer with cross-attention needs `memory` (the encoder output)")
            x, cross_trace = self.residual(x, self.cross_attn_norm, lambda h: self.cross_attn(h, memory, memory_mask))
            after_cross = x
        x, _ = self.residual(x, self.ff_norm, lambda h: (self.ff(h), None))
        return x, LayerTrace(self_trace, cross_trace, residual_in, after_self, after_cross, x)


class EncoderLayer(TransformerLayer):
    """Bidirectional self-attention + FFN. ``forward(x, mask)``; keyword arguments as :class:`TransformerLayer`."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, **kwargs) -> None:
        super().__init__(d_model, n_heads, d_ff, cross_attention=False, **kwargs)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        rope: RotaryEmbedding | None = None,
        attn_bias: Tensor | None = None,
    ) -> tuple[Tensor, LayerTrace]:
        """x ``(B, T, d_model)``, mask e.g. ``padding_mask(lengths, T)`` -> ``(x (B, T, d_model), LayerTrace)``."""
        return super().forward(x, self_mask=mask, rope=rope, attn_bias=attn_bias)


class DecoderLayer(TransformerLayer):
    """Masked self-attention, cross-attention over the encoder output, FFN. ``cross_attention=False`` gives the
    GPT block (decoder-only). ``forward(x, memory, self_mask, memory_mask, *, cache, rope, attn_bias)``."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, cross_attention: bool = True, **kwargs) -> None:
        super().__init__(d_model, n_heads, d_ff, cross_attention=cross_attention, **kwargs)


class TransformerStack(nn.Module):
    """Positions + N :class:`TransformerLayer` + final norm (pre-LN only; post-LN layers end normalised).

    With ``cfg.embedding_norm`` (BERT) the embeddings are normalised once, after the positions are added:
    x = Norm(E[tokens] + P[positions]) before the first layer.
    """

    def __init__(self, cfg: TransformerConfig, *, causal: bool, cross_attention: bool) -> None:
        super().__init__()
        self.positions = PositionalScheme(
            cfg.positional, max_len=cfg.max_len, d_model=cfg.d_model, n_heads=cfg.n_heads, causal=causal,
            rope_base=cfg.rope_base, rope_layout=cfg.rope_layout,
        )  # fmt: skip
        self.embedding_norm = make_norm(cfg.norm, cfg.d_model, cfg.norm_eps) if cfg.embedding_norm else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(
                cfg.d_model, cfg.n_heads, cfg.d_ff, cross_attention=cross_attention, dropout=cfg.dropout,
                activation=cfg.activation, norm_first=cfg.norm_first, norm=cfg.norm, n_kv_heads=cfg.n_kv_heads,
                bias=cfg.bias, eps=cfg.norm_eps,
            )
            for _ in range(cfg.n_layers)
        )  # fmt: skip
        self.final_norm = make_norm(cfg.norm, cfg.d_model, cfg.norm_eps) if cfg.norm_first else nn.Identity()

    def forward(
        self,
        x: Tensor,
        self_mask: Tensor | None,
        *,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        caches: list[KVCache] | None = None,
    ) -> tuple[Tensor, list[LayerTrace]]:
        """x: token embeddings ``(B, T, d_model)`` -> (hidden ``(B, T, d_model)``, one LayerTrace per layer)."""
        if caches is not None and len(caches) != len(self.layers):
            raise ValueError(f"need one KVCache per layer: got {len(caches)} for {len(self.layers)} layers")
        start = caches[0].length if caches else 0
        T = x.shape[1]
        x = self.positions.add_to_embeddings(x, start)  # (B, T, d_model)
        if self.embedding_norm is not None:
            x = self.embedding_norm(x)
        x = self.dropout(x)
        bias = self.positions.attn_bias(T, start + T, like=x)  # (H, T, start + T) or None
        traces = []
        for i, layer in enumerate(self.layers):
            cache = caches[i] if caches else None
            x, trace = layer(x, memory, self_mask, memory_mask, cache=cache, rope=self.positions.rope, attn_bias=bias)
            traces.append(trace)
        return self.final_norm(x), traces
