"""What each head does: scores of well-known head roles, read off attention maps.

Every role score is a mean attention weight on the key(s) that role looks at, so all lie in [0, 1] and can be
compared with one another (a head that spreads its weight evenly over i + 1 keys puts 1/(i + 1) on each):

    previous-token   mean_{i ≥ 1}  w[i, i−1]
    first-token      mean_{i ≥ 1}  w[i, 0]               (the "attention sink")
    current-token    mean_{i}      w[i, i]
    duplicate-token  mean_{i ∈ D}  Σ_{j < i, t_j = t_i} w[i, j]     D = queries whose token occurred earlier
    induction        on [r_1 … r_n, r_1 … r_n]: the query at r_k's second copy, weight on the key after its first copy
    entropy          mean_{i}  −Σ_j w[i, j] log w[i, j]  (nats, 0 log 0 = 0; not a role, how spread a head is)

Rows are queries and sum to 1. :func:`score_heads` runs a model through a ``forward`` callable supplied by the caller
(``ids (1, T) -> weights (L, H, T, T)``), so this module depends on no model loader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

ROLES: tuple[str, ...] = ("previous-token", "first-token", "current-token", "duplicate-token", "induction")
SENTENCE_ROLES: tuple[str, ...] = ROLES[:4]  # read off ordinary sentences; induction needs repeated random tokens

Forward = Callable[[Tensor], Tensor]  # ids (1, T) long -> attention weights (L, H, T, T)


def previous_token_score(weights: Tensor) -> Tensor:
    """mean over queries i ≥ 1 of w[i, i−1]: ``(..., T, T)`` -> ``(...)``, T ≥ 2."""
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # (..., T−1) -> (...)


def first_token_score(weights: Tensor) -> Tensor:
    """mean over queries i ≥ 1 of w[i, 0]: ``(..., T, T)`` -> ``(...)``, T ≥ 2.

    Query 0 is left out: in a causal model row 0 can only see key 0, so it puts weight 1 there in every head and
    would lift every head's score by 1/T without saying anything about the head.
    """
    return weights[..., 1:, 0].mean(-1)


def current_token_score(weights: Tensor) -> Tensor:
    """mean over all queries i of w[i, i]: ``(..., T, T)`` -> ``(...)``."""
    return weights.diagonal(dim1=-2, dim2=-1).mean(-1)


def earlier_same_token(ids: Tensor) -> Tensor:
    """``(T,)`` ids -> ``(T, T)`` bool: [i, j] is True where j < i and token j is token i (an earlier copy)."""
    same = ids[:, None] == ids[None, :]  # (T, T)
    return same & torch.ones_like(same).tril(-1)


def duplicate_token_score(weights: Tensor, ids: Tensor) -> Tensor:
    """Over queries i whose token occurred earlier, mean of Σ_{j < i, t_j = t_i} w[i, j]: the weight a query puts
    on earlier copies of itself. ``(..., T, T)``, ids ``(T,)`` -> ``(...)``; NaN where no token repeats."""
    earlier = earlier_same_token(ids)  # (T, T)
    repeats = earlier.any(-1)  # (T,): queries with an earlier copy
    if not repeats.any():
        return torch.full(weights.shape[:-2], float("nan"), dtype=weights.dtype, device=weights.device)
    on_copies = (weights * earlier).sum(-1)  # (..., T)
    return on_copies[..., repeats].mean(-1)


def mean_entropy(weights: Tensor) -> Tensor:
    """mean over queries of −Σ_j w[i, j] log w[i, j] in nats (0 log 0 = 0): ``(..., T, T)`` -> ``(...)``.

    0 for a head that puts all weight on one key in every row; a uniform causal row i gives log(i + 1).
    """
    return -torch.special.xlogy(weights, weights).sum(-1).mean(-1)


def sentence_scores(weights: Tensor, ids: Tensor) -> dict[str, Tensor]:
    """The sentence roles and "entropy" of one sentence: weights ``(L, H, T, T)``, ids ``(T,)`` -> name -> ``(L, H)``
    (duplicate-token is NaN when the sentence repeats no token)."""
    return {
        "previous-token": previous_token_score(weights),
        "first-token": first_token_score(weights),
        "current-token": current_token_score(weights),
        "duplicate-token": duplicate_token_score(weights, ids),
        "entropy": mean_entropy(weights),
    }


def repeated_sequences(
    vocab: range | Sequence[int], n_sequences: int, length: int, *, seed: int, first_token: int | None = None
) -> Tensor:
    """``(n_sequences, p + 2·length)`` long: each row [BOS?] r_1 … r_n r_1 … r_n, n = length, p = 1 with a
    ``first_token`` (placed at position 0), else 0.

    r_1 … r_n are n distinct ids drawn from ``vocab`` (so "the earlier copy" of a token is one position), by a
    ``torch.Generator`` seeded with ``seed``: the same arguments give the same sequences.
    """
    pool = torch.as_tensor(list(vocab), dtype=torch.long)  # (V,)
    if not 2 <= length <= len(pool):
        raise ValueError(f"length must be in [2, {len(pool)}] (distinct ids from the vocabulary); got {length}")
    gen = torch.Generator().manual_seed(seed)
    rows = torch.stack([pool[torch.randperm(len(pool), generator=gen)[:length]] for _ in range(n_sequences)])
    seqs = torch.cat([rows, rows], dim=1)  # (N, 2n)
    if first_token is None:
        return seqs
    return torch.cat([torch.full((n_sequences, 1), first_token, dtype=torch.long), seqs], dim=1)  # (N, 1 + 2n)


def induction_targets(length: int, prefix: int = 0) -> tuple[Tensor, Tensor]:
    """(queries, keys) ``(n,)`` each, for a repeated sequence of ``length`` n after ``prefix`` tokens.

    0-based, copy 1 holds r_k at prefix + k and copy 2 at prefix + n + k (k = 0 … n−1). The query at r_k's second
    copy, q = prefix + n + k, looks for what followed r_k last time: key prefix + k + 1 = q − n + 1 (for the last
    query that key is r_1 at the start of copy 2, which did follow r_n).
    """
    queries = torch.arange(prefix + length, prefix + 2 * length)  # (n,)
    return queries, queries - length + 1


def induction_score(weights: Tensor, length: int, prefix: int = 0) -> Tensor:
    """Mean weight of copy-2 queries on the induction key (:func:`induction_targets`): weights ``(..., T, T)`` of one
    repeated sequence with T = prefix + 2·length -> ``(...)``."""
    if weights.shape[-1] != prefix + 2 * length:
        raise ValueError(f"weights cover {weights.shape[-1]} positions, not prefix + 2·length = {prefix + 2 * length}")
    queries, keys = induction_targets(length, prefix)
    return weights[..., queries, keys].mean(-1)  # (..., n) -> (...)


@dataclass(frozen=True)
class HeadRoles:
    """Role scores of every head, averaged over inputs.

    scores: role (:data:`ROLES`) -> ``(L, H)``; duplicate-token averages only sentences that repeat a token (NaN when
    none did). entropy: ``(L, H)`` mean row entropy in nats over the sentences. n_sentences: sentences scored;
    n_duplicate_sentences: those of them that repeat a token; n_induction: repeated random sequences scored.
    """

    scores: dict[str, Tensor]
    entropy: Tensor
    n_sentences: int
    n_duplicate_sentences: int
    n_induction: int

    def __post_init__(self) -> None:
        if tuple(self.scores) != ROLES:
            raise ValueError(f"scores must hold the roles {ROLES} in that order; got {tuple(self.scores)}")
        shapes = {tuple(s.shape) for s in self.scores.values()} | {tuple(self.entropy.shape)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"every score and the entropy must share one (L, H) shape; got {shapes}")

    @property
    def shape(self) -> tuple[int, int]:
        """(n_layers, n_heads)."""
        return tuple(self.entropy.shape)

    def stacked(self) -> Tensor:
        """``(R, L, H)``: the scores in :data:`ROLES` order."""
        return torch.stack([self.scores[role] for role in ROLES])

    def strongest(self) -> list[list[tuple[str, float]]]:
        """[layer][head] -> (role with the highest score, that score); a NaN score never wins, ties go to the role
        listed first in :data:`ROLES`."""
        stack = self.stacked()  # (R, L, H)
        best = stack.nan_to_num(nan=-torch.inf).argmax(0)  # (L, H), first maximum on ties
        n_layers, n_heads = self.shape
        return [
            [(ROLES[int(best[layer, head])], float(stack[best[layer, head], layer, head])) for head in range(n_heads)]
            for layer in range(n_layers)
        ]

    def as_rows(self) -> list[dict[str, int | float | str]]:
        """One table row per head, layer-major: layer, head, every role's score, entropy, strongest role and score."""
        rows = []
        for layer, heads in enumerate(self.strongest()):
            for head, (role, score) in enumerate(heads):
                row: dict[str, int | float | str] = {"layer": layer, "head": head}
                row.update({name: float(self.scores[name][layer, head]) for name in ROLES})
                row.update({"entropy": float(self.entropy[layer, head]), "strongest": role, "score": score})
                rows.append(row)
        return rows


def _weights(forward: Forward, ids: Tensor) -> Tensor:
    """forward on one sequence ``(T,)`` -> float64 weights ``(L, H, T, T)``, checked against T."""
    with torch.no_grad():
        weights = forward(ids[None]).detach().to("cpu", torch.float64)  # (L, H, T, T)
    if weights.dim() != 4 or weights.shape[-2:] != (len(ids), len(ids)):
        raise ValueError(f"forward must return (L, H, T, T) with T = {len(ids)}; got {tuple(weights.shape)}")
    return weights


def score_heads(
    forward: Forward,
    sentences: list[list[int]],
    *,
    induction_vocab: range | list[int],
    n_induction: int,
    induction_len: int,
    seed: int,
    first_token: int | None = None,
) -> HeadRoles:
    """Every head's role scores: the sentence roles and entropy averaged over ``sentences`` (token id lists, each
    of ≥ 2 tokens), induction averaged over ``n_induction`` repeated random sequences of ``induction_len`` distinct
    ids from ``induction_vocab`` (after ``first_token`` when given; deterministic in ``seed``).

    forward: ids ``(1, T)`` long -> attention weights ``(L, H, T, T)`` (rows = queries); run without gradients.
    Scores are computed in float64.
    """
    if not sentences or n_induction < 1:
        raise ValueError("need at least one sentence and one induction sequence")
    if min(len(s) for s in sentences) < 2:
        raise ValueError("every sentence needs at least 2 tokens (previous- and first-token skip query 0)")
    per_sentence = []
    for sentence in sentences:
        ids = torch.as_tensor(sentence, dtype=torch.long)  # (T,)
        per_sentence.append(sentence_scores(_weights(forward, ids), ids))
    stacks = {name: torch.stack([s[name] for s in per_sentence]) for name in per_sentence[0]}  # (S, L, H) each
    # only duplicate-token may be undefined (NaN): average it over the sentences that define it
    mean = {name: s.nanmean(0) if name == "duplicate-token" else s.mean(0) for name, s in stacks.items()}  # (L, H)
    prefix = 0 if first_token is None else 1
    sequences = repeated_sequences(induction_vocab, n_induction, induction_len, seed=seed, first_token=first_token)
    induction = torch.stack([induction_score(_weights(forward, seq), induction_len, prefix) for seq in sequences])
    n_duplicate = sum(bool(earlier_same_token(torch.as_tensor(s)).any()) for s in sentences)
    return HeadRoles(
        scores={**{role: mean[role] for role in SENTENCE_ROLES}, "induction": induction.mean(0)},
        entropy=mean["entropy"],
        n_sentences=len(sentences),
        n_duplicate_sentences=n_duplicate,
        n_induction=n_induction,
    )
