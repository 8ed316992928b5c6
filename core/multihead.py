"""Multi-head attention (MHA), grouped-query attention (GQA, MQA) and the KV cache.

    head_h = Attention(X W_Q^h, C W_K^g(h), C W_V^g(h)),   MHA(X, C) = Concat(head_1..head_H) W_O

C is X for self-attention and the encoder output for cross-attention. With ``n_kv_heads < n_heads`` (GQA) the
query heads share key/value heads in groups of ``n_heads / n_kv_heads``; ``n_kv_heads = 1`` is multi-query.
The per-head work is :func:`core.attention.attention`, so every head's scores and weights come back in a
:class:`HeadsTrace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from core.attention import attention

if TYPE_CHECKING:
    from core.positional import RotaryEmbedding


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_heads(d_model: int, n_heads: int, n_kv_heads: int | None = None) -> None:
    """Raise a ValueError that says which values would work when the head split is impossible."""
    if n_heads < 1 or d_model % n_heads:
        lower = n_heads * (d_model // n_heads) if n_heads >= 1 else 0
        multiples = f", or a d_model that is a multiple of {n_heads}: {lower or n_heads} or {lower + n_heads}"
        raise ValueError(
            f"d_model={d_model} must be divisible by n_heads={n_heads} (d_k = d_model / n_heads); "
            f"n_heads that work with d_model={d_model}: {_divisors(d_model)}" + (multiples if n_heads >= 1 else "")
        )
    if n_kv_heads is not None and (n_kv_heads < 1 or n_heads % n_kv_heads):
        raise ValueError(
            f"n_heads={n_heads} must be divisible by n_kv_heads={n_kv_heads} (query heads share key/value heads "
            f"in equal groups); n_kv_heads that work: {_divisors(n_heads)}"
        )


@dataclass
class KVCache:
    """Keys and values of the positions decoded so far, for one attention layer: ``k, v (B, H_kv, T, d_k)``.

    Start empty (``KVCache()``); each forward with ``cache=`` appends the new positions and attends over all.
    Keys are stored after RoPE, so a cached key is never rotated twice.
    """

    k: Tensor | None = None
    v: Tensor | None = None

    @property
    def length(self) -> int:
        """Number of cached positions T (0 when empty)."""
        return 0 if self.k is None else self.k.shape[-2]

    @property
    def nbytes(self) -> int:
        """Memory held by the cached keys and values, in bytes."""
        return sum(t.numel() * t.element_size() for t in (self.k, self.v) if t is not None)

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add ``k, v (B, H_kv, T_new, d_k)`` and return all cached keys/values ``(B, H_kv, T + T_new, d_k)``."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


@dataclass(frozen=True)
class HeadsTrace:
    """Per-head intermediates of one multi-head attention call (k, v after the GQA repeat).

    q ``(B, H, Lq, d_k)``; k, v ``(B, H, Lk, d_k)``; raw_scores = Q Kᵀ and masked_scores (scaled, biased, masked to
    -inf) ``(B, H, Lq, Lk)``; weights ``(B, H, Lq, Lk)``; heads_out ``(B, H, Lq, d_k)`` (each head's
    ``AttentionTrace.output``); concat ``(B, Lq, d_model)`` (the heads side by side, before W_O); scale = 1/√d_k.
    The fields shared with :class:`core.attention.AttentionTrace` keep its names and order.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    raw_scores: Tensor
    masked_scores: Tensor
    weights: Tensor
    heads_out: Tensor
    concat: Tensor
    scale: float


class MultiHeadAttention(nn.Module):
    """Multi-head attention with ``n_heads`` query heads and ``n_kv_heads`` key/value heads (default: n_heads).

    d_k = d_model / n_heads. W_Q: d_model -> d_model, W_K, W_V: d_model -> n_kv_heads · d_k, W_O: d_model -> d_model.
    ``dropout`` applies to the attention weights during training.
    """

    def __init__(
        self, d_model: int, n_heads: int, *, n_kv_heads: int | None = None, bias: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        check_heads(d_model, n_heads, n_kv_heads)
        self.d_model, self.n_heads = d_model, n_heads
        self.n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        self.d_k = d_model // n_heads
        self.dropout = dropout
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, self.n_kv_heads * self.d_k, bias=bias)
        self.w_v = nn.Linear(d_model, self.n_kv_heads * self.d_k, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: Tensor, n_heads: int) -> Tensor:
        """``(B, T, n_heads · d_k)`` -> ``(B, n_heads, T, d_k)``."""
        B, T, _ = x.shape
        return x.view(B, T, n_heads, self.d_k).transpose(1, 2)  # (B, h, T, d_k)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        rope: RotaryEmbedding | None = None,
        attn_bias: Tensor | None = None,
    ) -> tuple[Tensor, HeadsTrace]:
        """x ``(B, Lq, d_model)`` -> ``(out (B, Lq, d_model), HeadsTrace)``.

        context: ``(B, Lk, d_model)`` for cross-attention (keys/values from it), ``None`` for self-attention.
        mask: bool, True = may attend, broadcastable to ``(B, H, Lq, Lk)`` where Lk counts cached positions.
        cache: self-attention only; the new keys/values are appended and queries sit at positions
            ``cache.length ..``, so the mask for ``Lq`` new tokens is ``causal_mask(Lq, cache.length + Lq)``.
        rope: rotates q and k by their absolute positions. attn_bias: added to scores, ``(H or 1, Lq, Lk)``.
        """
        if cache is not None and context is not None:
            raise ValueError("a KVCache is for self-attention; cross-attention keys come from `context` each call")
        source = x if context is None else context
        q = self.split_heads(self.w_q(x), self.n_heads)  # (B, H, Lq, d_k)
        k = self.split_heads(self.w_k(source), self.n_kv_heads)  # (B, H_kv, Lk_new, d_k)
        v = self.split_heads(self.w_v(source), self.n_kv_heads)  # (B, H_kv, Lk_new, d_k)
        if rope is not None:
            start = 0 if cache is None else cache.length
            q = rope.rotate(q, torch.arange(start, start + q.shape[-2], device=x.device))
            k = rope.rotate(k, torch.arange(start, start + k.shape[-2], device=x.device))
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H_kv, Lk, d_k), Lk = all positions so far
        group = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(group, dim=1)  # (B, H, Lk, d_k): query head h reads kv head h // group
        v = v.repeat_interleave(group, dim=1)  # (B, H, Lk, d_k)
        p = self.dropout if self.training else 0.0
        trace = attention(q, k, v, mask, bias=attn_bias, dropout_p=p)
        B, _, Lq, _ = q.shape
        concat = trace.output.transpose(1, 2).reshape(B, Lq, self.d_model)  # (B, Lq, H · d_k)
        heads = HeadsTrace(q=q, k=k, v=v, raw_scores=trace.raw_scores, masked_scores=trace.masked_scores,
                           weights=trace.weights, heads_out=trace.output, concat=concat, scale=trace.scale)
        return self.w_o(concat), heads  # (B, Lq, d_model)
