"""Tokens and embeddings (the Tokens-and-embeddings page): BPE merge by merge, the token count as the merges grow,
nearest neighbours in an embedding matrix, and one word's vector in two sentences, layer by layer.

BPE (Sennrich et al. 2016) learned ``merges`` m_0, m_1, ..., m_{K-1} in rank order; ``encode(text, max_merges=N)``
applies only m_0 .. m_{N-1}, so N = 0 gives one token per UTF-8 byte and N = K the tokenizer as trained. For a
trained merge list the ranks a word applies rise step by step (a merge using a new symbol was learned after the
merge that made it), so the token count c(N) is a step function that can only drop at N = r + 1 for a rank r the
text applies: :func:`token_count_curve` evaluates ``len(encode(text, max_merges=N))`` exactly at those N.

An embedding matrix E ``(V, d)`` gives token v the row e_v; its neighbours are the tokens u with the largest

    cos(e_v, e_u) = e_v · e_u / (‖e_v‖ ‖e_u‖)          (float64)

and one token's vector in two sentences is compared, at each depth l = 0..L of the residual stream h ``(L + 1, T,
d)``, by cos(h_a[l, t_a], h_b[l, t_b]); depth 0 is the token's embedding plus its learned position vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from core.tokenizer import ByteLevelBPE, bytes_to_unicode, readable

VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


def visible(text: str) -> str:
    """Whitespace drawn as a glyph, so a token's leading space can be seen: " the" -> "␣the"."""
    return text.translate(VISIBLE)


def symbol_text(symbol: str) -> str:
    """A BPE symbol in byte-symbol form ("Ġthe") as a learner reads it ("␣the"); a lone byte of a multi-byte
    character shows as \\xNN."""
    return visible(readable(symbol))


@dataclass(frozen=True)
class MergeRow:
    """One row of a word's BPE history: step 0 is the word's bytes (no merge: rank None, left, right and merged
    ""); step s > 0 applied the merge of ``rank`` (left + right -> merged). ``symbols``: the word's pieces after
    this step, readable."""

    word: str
    step: int
    rank: int | None
    left: str
    right: str
    merged: str
    symbols: tuple[str, ...]


def merge_rows(tokenizer: ByteLevelBPE, text: str) -> list[MergeRow]:
    """Every word of ``text`` (GPT-2's pre-tokenisation, ``tokenizer.explain``) with its bytes and then each merge
    applied, in order; every string readable (:func:`symbol_text`)."""
    rows, table = [], bytes_to_unicode()
    for word, steps in tokenizer.explain(text):
        raw = tuple(symbol_text(table[b]) for b in word.encode("utf-8"))  # the word's bytes, one symbol each
        rows.append(MergeRow(visible(word), 0, None, "", "", "", raw))
        for s, step in enumerate(steps, 1):
            rows.append(MergeRow(visible(word), s, step.rank, symbol_text(step.left), symbol_text(step.right),
                                 symbol_text(step.left + step.right), tuple(symbol_text(x) for x in step.symbols)))
    return rows


@dataclass(frozen=True)
class TokenCountCurve:
    """Token counts of one text as the merges grow: ``n_merges`` (K,) increasing, from 0 to all merges, and
    ``counts`` (K,) = len(encode(text, max_merges=n)) at each."""

    n_merges: np.ndarray
    counts: np.ndarray

    def count_at(self, n: int) -> int:
        """c(n): the count at the last evaluated N <= n (exact: c only changes at the evaluated N)."""
        return int(self.counts[np.searchsorted(self.n_merges, n, side="right") - 1])


def merge_breakpoints(tokenizer: ByteLevelBPE, text: str) -> list[int]:
    """0, every N = rank + 1 at which a merge the text applies switches on, and len(merges), sorted."""
    ranks = {step.rank + 1 for _, steps in tokenizer.explain(text) for step in steps}
    return sorted({0, len(tokenizer.merges), *ranks})


def token_count_curve(tokenizer: ByteLevelBPE, text: str, n_values: Iterable[int] | None = None) -> TokenCountCurve:
    """len(encode(text, max_merges=N)) at ``n_values`` (default :func:`merge_breakpoints`, which makes the step
    curve exact)."""
    ns = sorted(set(merge_breakpoints(tokenizer, text) if n_values is None else n_values))
    counts = [len(tokenizer.encode(text, max_merges=n)) for n in ns]
    return TokenCountCurve(np.array(ns, dtype=np.int64), np.array(counts, dtype=np.int64))


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` rows of an embedding matrix most cosine-similar to row ``token_id`` (itself left out): ``ids``
    (k,) most similar first, ``similarities`` (k,) float64."""

    token_id: int
    ids: tuple[int, ...]
    similarities: tuple[float, ...]


def cosine_neighbours(weight: Tensor, token_id: int, k: int = 10) -> Neighbours:
    """weight ``(V, d)`` -> the k tokens u != token_id with the largest cos(e_token, e_u), in float64."""
    w = weight.detach().double().cpu()  # (V, d)
    unit = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-300)  # (V, d): rows of length 1
    sims = unit @ unit[token_id]  # (V,)
    sims[token_id] = -torch.inf
    best = torch.topk(sims, min(k, w.shape[0] - 1))
    return Neighbours(token_id, tuple(best.indices.tolist()), tuple(best.values.tolist()))


def shared_token_ids(ids_a: Sequence[int], ids_b: Sequence[int], skip: Iterable[int] = ()) -> list[int]:
    """Token ids occurring in both sequences (``skip``: e.g. the special tokens), in their order in ``ids_a``."""
    in_b, left_out = set(ids_b), set(skip)
    return list(dict.fromkeys(i for i in ids_a if i in in_b and i not in left_out))


def layer_cosines(hidden_a: Tensor, t_a: int, hidden_b: Tensor, t_b: int) -> np.ndarray:
    """hidden ``(L + 1, T, d)`` of two sentences, a position in each -> ``(L + 1,)`` float64: cos(h_a[l, t_a],
    h_b[l, t_b]) at the embedding layer (l = 0: token + position vectors) and after each layer."""
    a = torch.as_tensor(hidden_a)[:, t_a].double()  # (L + 1, d)
    b = torch.as_tensor(hidden_b)[:, t_b].double()  # (L + 1, d)
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).numpy()  # (L + 1,)
