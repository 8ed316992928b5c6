"""What attention knows about order: experiments on positions, computed with the core's own modules.

Self-attention without positions is permutation-equivariant: shuffling the input rows by P shuffles the output
rows the same way, Attn(P X) = P Attn(X), so the model cannot tell "dog bites man" from "man bites dog".
Positional information breaks that symmetry. Here:

- :func:`permutation_experiment`: run one :class:`MultiHeadAttention` on X and on P X (positions belong to the
  *slots*, so they are added after shuffling) and measure max |out(P X) - P out(X)|.
- :func:`position_score_grid`: score(q at m, k at n) for every (m, n) with RoPE, added sinusoids, or nothing;
  :func:`diagonal_spread` shows RoPE's score depends only on the offset n - m (constant along diagonals).
- :func:`position_similarity`: dot / cosine similarity between the position vectors of a table; :func:`first_module` finds a trained
  model's learned table; :func:`relative_bias_example` shows T5's buckets and bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attention import attention
from core.lab.toy_inputs import seeded_embeddings, seeded_module
from core.multihead import MultiHeadAttention
from core.positional import LearnedPositionalEmbedding, RelativePositionBias, RotaryEmbedding, sinusoidal_encoding

ModuleT = TypeVar("ModuleT", bound=nn.Module)

POSITION_MODES: tuple[str, ...] = ("none", "sinusoidal", "learned", "rope")
SCORE_METHODS: tuple[str, ...] = ("rope", "sinusoidal", "none")


def random_permutation(length: int, generator: torch.Generator) -> Tensor:
    """A random permutation of ``range(length)`` that moves at least one element when length >= 2. -> ``(T,)``."""
    perm = torch.randperm(length, generator=generator)
    if length >= 2 and torch.equal(perm, torch.arange(length)):
        perm = perm.roll(1)  # the identity shows nothing; a cyclic shift is still a permutation
    return perm


@dataclass(frozen=True)
class PermutationResult:
    """Outputs of one attention layer on X and on the shuffled P X (P given by ``perm``: row i of P X is X[perm[i]]).

    out, out_perm ``(T, d_model)``; weights, weights_perm ``(H, T, T)``.
    """

    mode: str
    perm: Tensor
    out: Tensor
    out_perm: Tensor
    weights: Tensor
    weights_perm: Tensor

    @property
    def deviation(self) -> Tensor:
        """Per position i: max over features of |out(P X)[i] - (P out(X))[i]|. ``(T,)``."""
        return (self.out_perm - self.out[self.perm]).abs().amax(dim=-1)

    @property
    def max_deviation(self) -> float:
        """max |out(P X) - P out(X)|: ≈ 0 (float rounding) when attention is blind to order."""
        return float(self.deviation.max())


def position_table(mode: str, length: int, d_model: int, *, learned: LearnedPositionalEmbedding | None = None) -> Tensor:
    """What is added to slot t's input: zeros ("none", "rope": RoPE acts on q/k instead), the sinusoids, or the
    learned table. -> ``(T, d_model)``."""
    if mode in ("none", "rope"):
        return torch.zeros(length, d_model)
    if mode == "sinusoidal":
        return sinusoidal_encoding(length, d_model)
    if mode == "learned":
        if learned is None:
            raise ValueError("mode 'learned' needs a LearnedPositionalEmbedding")
        return learned(torch.arange(length, device=learned.embedding.weight.device))
    raise ValueError(f"unknown position mode {mode!r}; choose one of {POSITION_MODES}")


@torch.no_grad()
def permutation_experiment(
    x: Tensor,
    perm: Tensor,
    mha: MultiHeadAttention,
    mode: str = "none",
    *,
    learned: LearnedPositionalEmbedding | None = None,
) -> PermutationResult:
    """Self-attention on X ``(T, d_model)`` and on X[perm], with positions added per slot (or RoPE on q/k)."""
    T, d_model = x.shape
    pos = position_table(mode, T, d_model, learned=learned).to(x.device)  # (T, d_model)
    rope = RotaryEmbedding(mha.d_k).to(x.device) if mode == "rope" else None
    out, trace = mha((x + pos)[None], rope=rope)  # (1, T, d_model)
    out_perm, trace_perm = mha((x[perm] + pos)[None], rope=rope)  # (1, T, d_model)
    return PermutationResult(mode, perm, out[0], out_perm[0], trace.weights[0], trace_perm.weights[0])


def permutation_study(
    words: list[str], *, seed: int = 0, shuffle: int = 0, d_model: int = 32, n_heads: int = 4,
    device: torch.device | str = "cpu",
) -> dict[str, PermutationResult]:
    """The permutation experiment for a sentence, under every mode of :data:`POSITION_MODES`, all from ``seed``.

    Each distinct word gets a seeded random embedding ``(d_model,)`` (:func:`core.lab.toy_inputs.seeded_embeddings`); one seeded
    :class:`MultiHeadAttention` and one seeded learned position table are shared by all modes; ``shuffle`` picks
    the permutation (another draw for each value). Weights are drawn on the CPU, then run on ``device``.
    """
    x = seeded_embeddings(words, d_model, seed).to(device)  # (T, d_model): the same word, the same vector
    mha = seeded_module(lambda: MultiHeadAttention(d_model, n_heads).eval(), seed).to(device)
    learned = seeded_module(lambda: LearnedPositionalEmbedding(len(words), d_model), seed + 1)
    with torch.no_grad():
        learned.embedding.weight.mul_(50.0)  # std 0.02 -> 1: unit scale, like the word vectors (as if trained)
    learned = learned.to(device)
    perm = random_permutation(len(words), torch.Generator().manual_seed(seed * 1000 + shuffle + 1)).to(device)
    return {mode: permutation_experiment(x, perm, mha, mode, learned=learned) for mode in POSITION_MODES}


@torch.no_grad()
def position_score_grid(q: Tensor, k: Tensor, length: int, method: str = "rope") -> Tensor:
    """score[m, n] = ⟨q placed at position m, k placed at position n⟩ for m, n < length. q, k ``(d,)``. -> ``(L, L)``.

    rope:       ⟨R(m) q, R(n) k⟩ = ⟨q, R(n - m) k⟩, a function of n - m only.
    sinusoidal: ⟨q + PE(m), k + PE(n)⟩, the absolute recipe; cross terms ⟨q, PE(n)⟩ depend on n itself.
    none:       ⟨q, k⟩ everywhere: no position information at all.
    The dot product is the core's raw attention score (``attention(..., scoring="dot").raw_scores``).
    """
    d = q.shape[-1]
    qs, ks = q.expand(1, 1, length, d), k.expand(1, 1, length, d)  # (1, 1, L, d)
    positions = torch.arange(length)
    if method == "rope":
        rope = RotaryEmbedding(d)
        qs, ks = rope.rotate(qs, positions), rope.rotate(ks, positions)
    elif method == "sinusoidal":
        pe = sinusoidal_encoding(length, d)  # (L, d)
        qs, ks = qs + pe, ks + pe
    elif method != "none":
        raise ValueError(f"unknown method {method!r}; choose one of {SCORE_METHODS}")
    return attention(qs, ks, ks, scoring="dot").raw_scores[0, 0]  # (L, L)


def diagonal_spread(grid: Tensor) -> tuple[Tensor, Tensor]:
    """For each offset o = n - m of a square ``(L, L)`` grid: max - min of grid[m, m + o].

    -> ``(offsets (2L-1,), spread (2L-1,))``; an all-zero spread means the grid depends only on the offset.
    """
    L = grid.shape[-1]
    offsets = torch.arange(-(L - 1), L)
    diagonals = [torch.diagonal(grid, int(o)) for o in offsets]  # grid[m, m + o] for every valid m
    spread = torch.stack([d.max() - d.min() for d in diagonals])  # (2L-1,)
    return offsets, spread


def rope_plane(vector: Tensor, positions: Tensor, pair: int) -> Tensor:
    """The 2-D coordinates (x_2i, x_2i+1) of ``vector (d,)`` rotated by RoPE at each position. -> ``(P, 2)``.

    Pair i turns by θ_i = 10000^(-2i/d) radians per position step.
    """
    d = vector.shape[-1]
    rotated = RotaryEmbedding(d).rotate(vector.expand(1, 1, len(positions), d), positions)  # (1, 1, P, d)
    return rotated[0, 0, :, 2 * pair : 2 * pair + 2]  # (P, 2)


def position_similarity(table: Tensor, kind: str = "cosine") -> Tensor:
    """Similarity between every two rows of a position table ``(L, d)``: "dot" or "cosine". -> ``(L, L)``."""
    if kind == "dot":
        return table @ table.T
    if kind == "cosine":
        unit = F.normalize(table, dim=-1)  # (L, d)
        return unit @ unit.T
    raise ValueError(f"unknown similarity {kind!r}; choose 'dot' or 'cosine'")


@torch.no_grad()
def relative_bias_example(
    num_buckets: int, max_distance: int, bidirectional: bool, *, seed: int, length: int = 16, n_heads: int = 4
) -> tuple[Tensor, Tensor]:
    """A seeded, untrained :class:`RelativePositionBias`: bucket ids ``(L, L)`` and bias per head ``(H, L, L)``."""
    rel = seeded_module(lambda: RelativePositionBias(n_heads, num_buckets=num_buckets, max_distance=max_distance,
                                                     bidirectional=bidirectional), seed)
    return rel.buckets(length, length), rel(length, length)


def first_module(model: nn.Module, kind: type[ModuleT]) -> ModuleT | None:
    """The first sub-module of ``model`` of type ``kind`` (e.g. a trained model's LearnedPositionalEmbedding: for an
    encoder-decoder, the encoder's), or None."""
    return next((m for m in model.modules() if isinstance(m, kind)), None)
