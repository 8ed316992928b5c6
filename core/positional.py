"""Positional information: attention alone is blind to order (permutation-equivariant); these put order back.

Added to the token embeddings:  sinusoidal (Vaswani et al. 2017), learned absolute (BERT, GPT-2).
Applied to q and k:             RoPE (Su et al. 2021) rotates each (q, k) pair by an angle ∝ position.
Added to the attention scores:  ALiBi (Press et al. 2022) linear distance penalty, T5 relative-position buckets.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from core.masks import query_key_positions

POSITIONALS: tuple[str, ...] = ("sinusoidal", "learned", "rope", "alibi", "relative", "none")
ROPE_LAYOUTS: tuple[str, ...] = ("interleaved", "half")


def sinusoidal_encoding(
    length: int, d_model: int, *, base: float = 10000.0, device: torch.device | str | None = None
) -> Tensor:
    """The paper's table: PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d)).

    -> ``(length, d_model)`` float32 (an odd d_model drops the last cosine column).
    """
    pos = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)  # (ceil(d/2),)
    angle = pos / base ** (two_i / d_model)  # (L, ceil(d/2))
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)  # (L, 2·ceil(d/2)): sin, cos interleaved
    return pe[:, :d_model].float()  # (L, d_model)


def _check_positions(positions: Tensor, max_len: int) -> None:
    if positions.numel() and int(positions.max()) >= max_len:
        raise ValueError(
            f"position {int(positions.max())} is beyond max_len={max_len}; use a shorter sequence or a larger max_len"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal table (no parameters): positions ``(T,)`` -> ``(T, d_model)``."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        _check_positions(positions, self.max_len)
        return self.table[positions]  # (T, d_model)


class LearnedPositionalEmbedding(nn.Module):
    """One trained vector per absolute position: positions ``(T,)`` -> ``(T, d_model)``."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, positions: Tensor) -> Tensor:
        _check_positions(positions, self.max_len)
        return self.embedding(positions)  # (T, d_model)


class RotaryEmbedding(nn.Module):
    """RoPE: rotate the i-th pair of features of a query/key by the angle pos · θ_i, θ_i = base^(-2i/d), i < d/2.

    Because rotations compose, ⟨R(m) q, R(n) k⟩ = ⟨q, R(n - m) k⟩: the score depends only on the offset n - m.
    Which features form pair i is a convention (the scores are the same up to a fixed permutation of the weights):
    layout "interleaved" pairs (x_2i, x_2i+1), as the RoFormer paper writes it; "half" pairs (x_i, x_i+d/2), the
    ``rotate_half`` of GPT-NeoX and Llama, whose checkpoints' W_Q, W_K are laid out for it.
    """

    def __init__(self, d_head: int, *, base: float = 10000.0, layout: str = "interleaved") -> None:
        super().__init__()
        if d_head % 2:
            raise ValueError(f"RoPE rotates pairs of features: d_head must be even (got {d_head})")
        if layout not in ROPE_LAYOUTS:
            raise ValueError(f"unknown RoPE layout {layout!r}; choose one of {ROPE_LAYOUTS}")
        self.d_head, self.layout = d_head, layout
        two_i_over_d = torch.arange(0, d_head, 2, dtype=torch.float32) / d_head  # (d/2,) 2i/d
        inv_freq = base**-two_i_over_d  # (d/2,) θ_i
        if layout == "half":  # the same θ_i rounded as Llama's code computes it, so float32 angles match bit for bit
            inv_freq = 1.0 / base**two_i_over_d
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def angles(self, positions: Tensor) -> Tensor:
        """Rotation angle of every (position, pair): ``(T,)`` -> ``(T, d_head / 2)``."""
        return positions.to(self.inv_freq.dtype)[:, None] * self.inv_freq[None, :]

    def rotate(self, x: Tensor, positions: Tensor) -> Tensor:
        """x ``(B, H, T, d_head)``, positions ``(T,)`` -> x rotated, same shape and dtype."""
        angle = self.angles(positions)  # (T, d/2)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        if self.layout == "half":
            x1, x2 = x.chunk(2, dim=-1)  # (B, H, T, d/2) each: pair i is (x_i, x_i+d/2)
            return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, T, d_head)
        x1, x2 = x[..., 0::2], x[..., 1::2]  # (B, H, T, d/2) each: the two coordinates of every pair
        rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, T, d/2, 2)
        return rotated.flatten(-2)  # (B, H, T, d_head)


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi head slopes: the geometric sequence 2^(-8/n), 2^(-16/n), ... for n a power of two; otherwise the
    paper's recipe (the slopes of the closest smaller power of two, then every other slope of the next one).
    -> ``(n_heads,)``."""

    def power_of_two(n: int) -> list[float]:
        return [2 ** (-8 * (i + 1) / n) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes)


def alibi_bias(n_heads: int, lq: int, lk: int, *, device: torch.device | str | None = None) -> Tensor:
    """ALiBi: bias[h, i, j] = -slope_h · |p_i - j| (queries are the last Lq positions). -> ``(H, Lq, Lk)``.

    For causal attention only j <= p_i is visible, where this is the paper's -slope · (p_i - j).
    """
    q_pos, k_pos = query_key_positions(lq, lk, device)  # (Lq, 1), (1, Lk)
    distance = (q_pos - k_pos).abs()  # (Lq, Lk)
    return -alibi_slopes(n_heads).to(device)[:, None, None] * distance  # (H, Lq, Lk)


def relative_position_bucket(
    relative_position: Tensor, *, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> Tensor:
    """T5 buckets for offsets key - query: half the buckets are exact small offsets, the rest grow logarithmically
    up to ``max_distance`` (farther offsets share the last bucket). Bidirectional splits buckets by sign.
    Causal mode maps all future offsets to bucket 0."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)
    max_exact = num_buckets // 2
    log_ratio = torch.log(distance.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    far = (max_exact + (log_ratio * (num_buckets - max_exact)).long()).clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < max_exact, distance, far)


class RelativePositionBias(nn.Module):
    """T5-style learned bias per (bucket of key - query offset, head): ``forward(lq, lk) -> (H, Lq, Lk)``."""

    def __init__(
        self, n_heads: int, *, num_buckets: int = 32, max_distance: int = 128, bidirectional: bool = True
    ) -> None:
        super().__init__()
        self.num_buckets, self.max_distance, self.bidirectional = num_buckets, max_distance, bidirectional
        self.embedding = nn.Embedding(num_buckets, n_heads)

    def buckets(self, lq: int, lk: int, device: torch.device | str | None = None) -> Tensor:
        """Bucket index of every (query, key) pair, queries being the last Lq positions. -> ``(Lq, Lk)`` long."""
        q_pos, k_pos = query_key_positions(lq, lk, device)  # (Lq, 1), (1, Lk)
        offset = k_pos - q_pos  # (Lq, Lk) key - query
        return relative_position_bucket(
            offset, bidirectional=self.bidirectional, num_buckets=self.num_buckets, max_distance=self.max_distance
        )

    def forward(self, lq: int, lk: int) -> Tensor:
        buckets = self.buckets(lq, lk, self.embedding.weight.device)  # (Lq, Lk)
        return self.embedding(buckets).permute(2, 0, 1)  # (H, Lq, Lk)


class PositionalScheme(nn.Module):
    """A model's positional scheme by name (one of :data:`POSITIONALS`): an absolute table added to the
    embeddings ("sinusoidal", "learned"), RoPE for q/k ("rope", with ``rope_base`` and ``rope_layout``, see
    :class:`RotaryEmbedding`), or a score bias ("alibi", "relative")."""

    def __init__(
        self,
        kind: str,
        *,
        max_len: int,
        d_model: int,
        n_heads: int,
        causal: bool,
        rope_base: float = 10000.0,
        rope_layout: str = "interleaved",
    ) -> None:
        super().__init__()
        if kind not in POSITIONALS:
            raise ValueError(f"unknown positional {kind!r}; choose one of {POSITIONALS}")
        self.kind, self.n_heads = kind, n_heads
        tables = {"sinusoidal": SinusoidalPositionalEncoding, "learned": LearnedPositionalEmbedding}
        self.table = tables[kind](max_len, d_model) if kind in tables else None
        self.rope = RotaryEmbedding(d_model // n_heads, base=rope_base, layout=rope_layout) if kind == "rope" else None
        self.relative = RelativePositionBias(n_heads, bidirectional=not causal) if kind == "relative" else None

    def add_to_embeddings(self, x: Tensor, start: int) -> Tensor:
        """x ``(B, T, d_model)`` at positions start..start+T-1 -> x + PE (unchanged without a table)."""
        if self.table is None:
            return x
        return x + self.table(torch.arange(start, start + x.shape[1], device=x.device))  # (B, T, d_model)

    def attn_bias(self, lq: int, lk: int, like: Tensor) -> Tensor | None:
        """Score bias ``(H, Lq, Lk)`` for "alibi" / "relative" (dtype and device of ``like``), else None."""
        if self.kind == "alibi":
            return alibi_bias(self.n_heads, lq, lk, device=like.device).to(like.dtype)
        return self.relative(lq, lk).to(like.dtype) if self.relative is not None else None
