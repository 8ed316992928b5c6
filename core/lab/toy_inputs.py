"""Toy inputs for the foundation pages: a word tokenizer, seeded embeddings and seeded projections.

No trained weights here: every vector is a seeded random draw, so a view is reproducible from (text, sizes, seed).

    tokens = word_tokens("The cat sat")            # ['the', 'cat', 'sat']   (lower-cased whitespace words)
    x      = seeded_embeddings(tokens, d_model=16, seed=0)              # (T, d_model), same word -> same row
    q, k, v = seeded_qkv(x, d_k=8, seed=0)                              # (T, d_k) each: x W_Q, x W_K, x W_V
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor, nn

MAX_TOKENS = 48  # the pages refuse longer inputs: the maps would be unreadable (and O(T²) to draw)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


class TokenizeError(ValueError):
    """The text cannot be shown: empty, or more than ``max_tokens`` tokens. The message says what to do."""


def word_tokens(text: str) -> list[str]:
    """Lower-cased whitespace-separated words: ``"The cat  sat."`` -> ``['the', 'cat', 'sat.']``."""
    return text.lower().split()


def checked_tokens(text: str, max_tokens: int = MAX_TOKENS) -> list[str]:
    """:func:`word_tokens`, raising :class:`TokenizeError` for no tokens or more than ``max_tokens``."""
    tokens = word_tokens(text)
    if not tokens:
        raise TokenizeError("The text has no words: type a sentence (words separated by spaces).")
    if len(tokens) > max_tokens:
        raise TokenizeError(f"The text has {len(tokens)} words; this page shows at most {max_tokens}. Shorten it.")
    return tokens


def random_tokens(n: int) -> list[str]:
    """Placeholder names for ``n`` random tokens: ``['t0', 't1', ...]``."""
    return [f"t{i}" for i in range(n)]


def token_seed(token: str, seed: int) -> int:
    """A stable integer seed for one token (CRC-32 of the word, mixed with the global seed; not Python's hash())."""
    return (zlib.crc32(token.encode("utf-8", "surrogatepass")) * 1_000_003 + seed) % (2**63 - 1)


def seeded_embeddings(tokens: Sequence[str], d_model: int, seed: int) -> Tensor:
    """One N(0, 1) vector per token, drawn from a generator seeded by (token, seed) -> ``(T, d_model)`` float32.

    Equal words get equal vectors (as in a real embedding table); changing the seed redraws the whole table.
    """
    rows = [torch.randn(d_model, generator=torch.Generator().manual_seed(token_seed(t, seed))) for t in tokens]
    return torch.stack(rows) if rows else torch.zeros(0, d_model)  # (T, d_model)


def random_embeddings(n: int, d_model: int, seed: int) -> Tensor:
    """``n`` independent N(0, 1) vectors -> ``(n, d_model)`` (the "random tokens" mode)."""
    return torch.randn(n, d_model, generator=torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class Projections:
    """W_Q, W_K ``(d_model, d_k)`` and W_V ``(d_model, d_v)``, entries N(0, 1/d_model) (unit-variance outputs)."""

    w_q: Tensor
    w_k: Tensor
    w_v: Tensor

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x ``(..., T, d_model)`` -> q, k ``(..., T, d_k)``, v ``(..., T, d_v)``."""
        return x @ self.w_q, x @ self.w_k, x @ self.w_v


def seeded_projections(d_model: int, d_k: int, seed: int, d_v: int | None = None) -> Projections:
    """W_Q, W_K, W_V drawn N(0, 1/d_model) from a generator seeded with ``seed`` (offsets keep the three apart)."""
    d_v = d_k if d_v is None else d_v
    g = torch.Generator().manual_seed(seed + 7919)
    scale = 1.0 / math.sqrt(d_model)
    return Projections(
        w_q=torch.randn(d_model, d_k, generator=g) * scale,
        w_k=torch.randn(d_model, d_k, generator=g) * scale,
        w_v=torch.randn(d_model, d_v, generator=g) * scale,
    )


def seeded_qkv(x: Tensor, d_k: int, seed: int, d_v: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v = x W_Q, x W_K, x W_V with :func:`seeded_projections`; x ``(T, d_model)`` -> ``(T, d_k)`` each."""
    return seeded_projections(x.shape[-1], d_k, seed, d_v).project(x)


def seeded_module(build: Callable[[], ModuleT], seed: int) -> ModuleT:
    """Build a module with its default initialisation drawn from ``torch.manual_seed(seed)``, without touching the
    caller's global RNG state (``fork_rng``). E.g. ``seeded_module(lambda: MultiHeadAttention(32, 4), 0)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
