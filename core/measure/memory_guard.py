"""Refuse an attention call (or any computation whose peak can be predicted) that would not fit in memory, before
it runs, and say why.

    allowed  ⇔  predicted peak bytes (core.measure.memory, or the computation's own formula) <= budget

The budget is the caller's (the learner's setting) or 1 GiB, and never more than half of the memory this machine
has free right now (``MemAvailable`` in /proc/meminfo on Linux; ``torch.cuda.mem_get_info`` on a GPU), so one
oversized request cannot take the app down. A refusal of naive attention offers the tiled path, whose peak grows
like Lq instead of Lq·Lk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from core.attention import naive_attention
from core.masks import causal_mask, combine_masks, padding_mask
from core.measure.memory import MIB, predicted_naive_peak_bytes, predicted_tiled_peak_bytes
from core.tiled import tiled_attention

DEFAULT_BUDGET_BYTES = 1 << 30  # 1 GiB
FREE_MEMORY_SHARE = 0.5  # never budget more than this share of the memory free now
METHODS = ("naive", "tiled")


def available_memory_bytes(device: torch.device | str | None = None) -> int | None:
    """Memory free for new tensors now: CUDA from ``mem_get_info``, CPU from /proc/meminfo; None when unknown."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the file counts kB
    except OSError:  # not Linux
        return None
    return None


def effective_budget_bytes(budget_bytes: int | None = None, device: torch.device | str | None = None) -> int:
    """``budget_bytes`` (default 1 GiB), capped at half of the memory available on ``device``."""
    budget = DEFAULT_BUDGET_BYTES if budget_bytes is None else int(budget_bytes)
    available = available_memory_bytes(device)
    return budget if available is None else min(budget, int(available * FREE_MEMORY_SHARE))


@dataclass(frozen=True)
class GuardDecision:
    """Whether ``method`` may run: its predicted peak vs the budget, and a sentence saying so."""

    allowed: bool
    method: str
    predicted_bytes: int
    budget_bytes: int
    message: str


class MemoryBudgetExceeded(ValueError):
    """Raised instead of running attention that would exceed the memory budget; ``.decision`` has the figures."""

    def __init__(self, decision: GuardDecision) -> None:
        super().__init__(decision.message)
        self.decision = decision


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / MIB:,.1f} MiB"


def check_memory(
    what: str, predicted_bytes: int, *, budget_bytes: int | None = None, device: torch.device | str | None = None,
    advice: str = "", method: str | None = None,
) -> GuardDecision:
    """Compare the predicted peak of any computation with the budget. ``what`` names it in the message (a phrase
    such as "Timing the scoring functions at L = 1,024"); ``advice`` tells the learner what to change on refusal;
    ``method`` is recorded in the decision (default: ``what``)."""
    budget = effective_budget_bytes(budget_bytes, device)
    method = what if method is None else method
    if predicted_bytes <= budget:
        message = f"{what} needs about {_mib(predicted_bytes)}, within the budget of {_mib(budget)}."
        return GuardDecision(True, method, predicted_bytes, budget, message)
    message = (f"{what} would need about {_mib(predicted_bytes)}, more than the memory budget of {_mib(budget)}, "
               f"so it was not run." + (f" {advice}" if advice else ""))
    return GuardDecision(False, method, predicted_bytes, budget, message)


def check_attention_memory(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, method: str = "naive", budget_bytes: int | None = None, device: torch.device | str | None = None,
    masked: bool = False, block_q: int = 256, block_k: int = 512,
) -> GuardDecision:
    """Predict the peak of ``method`` ("naive" or "tiled") for these shapes and compare it with the budget."""
    if method not in METHODS:
        raise ValueError(f"unknown attention method {method!r}; choose one of {METHODS}")
    tiled = predicted_tiled_peak_bytes(batch, heads, lq, lk, d, dtype, block_q=block_q, block_k=block_k)
    predicted = predicted_naive_peak_bytes(batch, heads, lq, lk, d, dtype, masked=masked) if method == "naive" else tiled
    shape = f"B={batch}, H={heads}, Lq={lq}, Lk={lk}, d={d}, {str(dtype).removeprefix('torch.')}"
    if method == "naive":
        advice = (f"Its (Lq, Lk) score matrices grow with Lq·Lk. Use the tiled path (method='tiled'), which needs "
                  f"about {_mib(tiled)}, or a shorter sequence.")
    else:
        advice = "Use smaller blocks (block_q, block_k) or a shorter sequence."
    return check_memory(f"{method} attention ({shape})", predicted, budget_bytes=budget_bytes, device=device,
                        advice=advice, method=method)


def guarded_attention(
    q: Tensor, k: Tensor, v: Tensor, *, method: str = "naive", causal: bool = False,
    key_lengths: Tensor | Sequence[int] | None = None, budget_bytes: int | None = None,
    scale: float | None = None, block_q: int = 256, block_k: int = 512,
) -> Tensor:
    """Attention by ``method`` after the memory check; raises :class:`MemoryBudgetExceeded` when it does not fit.

    q ``(B, H, Lq, d)``, k, v ``(B, H_kv, Lk, d)`` -> ``(B, H, Lq, d)``; masks as in :func:`core.tiled.tiled_attention`.
    """
    batch, heads, lq, d = q.shape
    lk = k.shape[2]
    decision = check_attention_memory(
        batch, heads, lq, lk, d, q.dtype, method=method, budget_bytes=budget_bytes, device=q.device,
        masked=causal or key_lengths is not None, block_q=block_q, block_k=block_k,
    )
    if not decision.allowed:
        raise MemoryBudgetExceeded(decision)
    if method == "tiled":
        return tiled_attention(q, k, v, causal=causal, key_lengths=key_lengths, scale=scale,
                               block_q=block_q, block_k=block_k)
    group = heads // k.shape[1]
    if group > 1:  # GQA: query head h reads key/value head h // group
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, Lk, d)
    mask = combine_masks(
        causal_mask(lq, lk, device=q.device) if causal else None,
        padding_mask(torch.as_tensor(key_lengths, device=q.device), lk) if key_lengths is not None else None,
    )
    return naive_attention(q, k, v, mask, scale=scale)
