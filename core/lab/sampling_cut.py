"""The cut a sampling rule makes in one next-token distribution, laid out for a bar chart (the Generation page).

For the last position's logits z ``(V,)`` and a :class:`~core.generation.Sampling` (T, k, p):

    before  = softmax(z / T)                       what temperature leaves (greedy: softmax(z), T = 1)
    cum_i   = Σ_{j ≤ i} before_(j)                 running mass, tokens sorted most likely first
    top-k   removes every token with before < the k-th largest value
    top-p   removes a token when the mass of the more likely tokens already reached p (cum_i − before_(i) ≥ p)
    after   = next_token_probs(z)                  the kept tokens, renormalised: what the token is drawn from

``after`` is :func:`core.generation.next_token_probs` itself (same dtype as the decoder used), so the bars equal the
distribution the step was drawn from; ``reason`` only says which rule removed a token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from core.generation import Sampling, next_token_probs


@dataclass(frozen=True)
class SamplingCut:
    """The ``top`` most likely tokens under ``before`` (most likely first), all ``(N,)``.

    ids: token ids; model: softmax(z) at T = 1; before: softmax(z / T) (= model when greedy); after: the renormalised
    distribution sampled from (0 where removed); cumulative: running sum of ``before`` in this order; reason: "" (kept)
    or "top-k" / "top-p" / "greedy" (removed by). kept_mass: Σ before over every kept token of the whole vocabulary
    (the renormaliser: after = before / kept_mass on kept tokens, when T > 0).
    """

    ids: tuple[int, ...]
    model: Tensor
    before: Tensor
    after: Tensor
    cumulative: Tensor
    reason: tuple[str, ...]
    kept_mass: float

    @property
    def removed(self) -> tuple[bool, ...]:
        return tuple(bool(r) for r in self.reason)


def sampling_cut(logits: Tensor, sampling: Sampling, top: int = 25) -> SamplingCut:
    """logits ``(V,)`` (as the decoder saw them) -> :class:`SamplingCut` of the ``top`` most likely tokens."""
    model = torch.softmax(logits, dim=-1)  # (V,)
    before = model if sampling.temperature == 0 else torch.softmax(logits / sampling.temperature, dim=-1)  # (V,)
    after = next_token_probs(logits, sampling)  # (V,)
    order = torch.sort(before, descending=True, stable=True).indices  # (V,)
    cumulative = before[order].cumsum(0)  # (V,)
    kth = torch.topk(before, sampling.top_k).values[-1] if sampling.top_k else None
    reasons = []
    for i in order[:top].tolist():
        if after[i] > 0:
            reasons.append("")
        elif sampling.temperature == 0:
            reasons.append("greedy")
        else:
            reasons.append("top-k" if kth is not None and before[i] < kth else "top-p")
    keep = order[:top]
    return SamplingCut(tuple(keep.tolist()), model[keep], before[keep], after[keep], cumulative[:top],
                       tuple(reasons), float(before[after > 0].sum()))  # fmt: skip
