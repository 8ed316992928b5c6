"""Training the English models on the WordNet corpus: a causal LM (english-gpt) and a masked LM (english-bert).

Data, both models (documents encoded with the byte-level BPE of :mod:`core.tokenizer`)::

    GPT:  doc₁ <|endoftext|> doc₂ <|endoftext|> ...  cut into windows of T + 1 tokens; inputs w[:-1], targets w[1:]
    BERT: [CLS] doc₁ [SEP] doc₂ [SEP] ...            cut into windows of T tokens, each starting with [CLS]

BERT's masking (Devlin et al. 2019, §3.1): 15 % of the ordinary tokens are chosen; of those 80 % become [MASK],
10 % a random ordinary token, 10 % stay; the loss is the cross-entropy on the chosen positions only.

Baselines on the same tokens (no learning beyond counting): unigram and add-k bigram cross-entropy (k chosen on
the validation split) for the GPT; "always the most frequent tokens" top-1 / top-5 for the BERT.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.tokenizer import ByteLevelBPE

IGNORE = -100
MASK_RATE, MASK_AS_MASK, MASK_AS_RANDOM = 0.15, 0.8, 0.1


def encode_documents(tokenizer: ByteLevelBPE, docs: list[str], separator: int) -> Tensor:
    """Every document's ids followed by ``separator``, concatenated: a 1-D long tensor."""
    ids: list[int] = []
    for doc in docs:
        ids += tokenizer.encode(doc)
        ids.append(separator)
    return torch.tensor(ids, dtype=torch.long)


def causal_windows(stream: Tensor, length: int) -> Tensor:
    """A token stream -> non-overlapping windows ``(N, length + 1)`` (inputs = w[:, :-1], targets = w[:, 1:])."""
    n = (len(stream) - 1) // length
    starts = torch.arange(n) * length
    return stream[starts[:, None] + torch.arange(length + 1)]  # (N, length + 1)


def encoder_windows(stream: Tensor, length: int, cls_id: int) -> Tensor:
    """A [SEP]-separated token stream -> windows ``(N, length)``, each [CLS] + the next length - 1 tokens."""
    body = length - 1
    n = len(stream) // body
    rows = stream[: n * body].view(n, body)  # (N, length - 1)
    return torch.cat([torch.full((n, 1), cls_id, dtype=torch.long), rows], dim=1)  # (N, length)


def mask_tokens(
    windows: Tensor, *, mask_id: int, special_ids: list[int], n_ordinary: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """BERT's 80/10/10 masking of ``windows (B, T)`` -> (inputs (B, T), targets (B, T) with IGNORE where not chosen).

    Only ordinary tokens (not special ids) are chosen; random replacements are ordinary tokens (ids < n_ordinary).
    """
    special = torch.isin(windows, torch.tensor(special_ids))
    chosen = (torch.rand(windows.shape, generator=generator) < MASK_RATE) & ~special  # (B, T)
    roll = torch.rand(windows.shape, generator=generator)
    as_mask = chosen & (roll < MASK_AS_MASK)
    as_random = chosen & (roll >= MASK_AS_MASK) & (roll < MASK_AS_MASK + MASK_AS_RANDOM)
    random_ids = torch.randint(0, n_ordinary, windows.shape, generator=generator)
    inputs = torch.where(as_mask, mask_id, torch.where(as_random, random_ids, windows))
    targets = torch.where(chosen, windows, IGNORE)
    return inputs, targets


@dataclass(frozen=True)
class LMTrainConfig:
    """One English model's training run: AdamW, linear warmup then cosine decay to min_lr_ratio · lr."""

    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 100
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 250
    eval_windows: int = 128


def _lr(step: int, cfg: LMTrainConfig) -> float:
    if step <= cfg.warmup:
        return cfg.lr * step / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * (1 + math.cos(math.pi * t)) / 2)


def lm_loss(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over the target positions that are not IGNORE."""
    logits = model(inputs).logits  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def batch_pair(kind: str, windows: Tensor, masking: dict | None, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Windows -> (inputs, targets): shifted for the decoder, masked for the encoder."""
    if kind == "decoder":
        return windows[:, :-1], windows[:, 1:]
    return mask_tokens(windows, generator=generator, **masking)


@torch.no_grad()
def mean_loss(model: nn.Module, pairs: list[tuple[Tensor, Tensor]]) -> float:
    """Token-weighted mean cross-entropy (nats) over (inputs, targets) batches."""
    total, count = 0.0, 0
    for inputs, targets in pairs:
        logits = model(inputs).logits
        n = int((targets != IGNORE).sum())
        total += float(F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)) * n
        count += n
    return total / max(1, count)


def train_lm(
    model: nn.Module,
    kind: str,
    train_windows: Tensor,
    valid_pairs: list[tuple[Tensor, Tensor]],
    cfg: LMTrainConfig,
    *,
    masking: dict | None = None,
    log: Callable[[int, float, float | None, float], None] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place for cfg.steps steps on random batches of ``train_windows``; returns the curves
    {"steps", "loss", "eval_steps", "valid_loss"}. Deterministic for cfg.seed (data order and masking)."""
    generator = torch.Generator().manual_seed(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.98), eps=1e-8,
    )  # fmt: skip
    curves: dict[str, list[float]] = {"steps": [], "loss": [], "eval_steps": [], "valid_loss": []}
    start = time.perf_counter()
    model.train()
    for step in range(1, cfg.steps + 1):
        rows = torch.randint(0, len(train_windows), (cfg.batch_size,), generator=generator)
        inputs, targets = batch_pair(kind, train_windows[rows], masking, generator)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = lm_loss(model, inputs, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        curves["steps"].append(step)
        curves["loss"].append(round(loss.item(), 4))
        valid = None
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            valid = mean_loss(model, valid_pairs)
            model.train()
            curves["eval_steps"].append(step)
            curves["valid_loss"].append(round(valid, 4))
        if log is not None and (valid is not None or step % 50 == 0):
            log(step, float(loss), valid, time.perf_counter() - start)
    model.eval()
    return curves


# ---- baselines --------------------------------------------------------------------------------------------------
def unigram_bigram_cross_entropy(
    train_stream: Tensor, valid_pairs: Tensor, test_pairs: Tensor, vocab_size: int, ks=(0.01, 0.03, 0.1, 0.3, 1.0)
) -> dict[str, float]:
    """Cross-entropy (nats/token) of count models on (previous, next) token pairs ``(N, 2)``.

    unigram: P(b) = (c(b) + 1) / (N + V) (add-one). bigram: P(b | a) = (c(a, b) + k) / (c(a) + k V), with k chosen
    on the validation pairs. Counts come from consecutive tokens of ``train_stream``.
    """
    V = vocab_size
    uni = torch.bincount(train_stream, minlength=V).double()  # (V,)
    pair_ids = train_stream[:-1] * V + train_stream[1:]
    big = torch.bincount(pair_ids, minlength=V * V).double().view(V, V)  # (V, V)
    row = big.sum(1)  # (V,)

    def bigram_ce(pairs: Tensor, k: float) -> float:
        a, b = pairs[:, 0], pairs[:, 1]
        return float(-torch.log((big[a, b] + k) / (row[a] + k * V)).mean())

    best_k = min(ks, key=lambda k: bigram_ce(valid_pairs, k))
    unigram = float(-torch.log((uni[test_pairs[:, 1]] + 1) / (uni.sum() + V)).mean())
    return {"unigram": unigram, "bigram": bigram_ce(test_pairs, best_k), "bigram_k": best_k}


def frequent_token_accuracy(train_stream: Tensor, targets: Tensor, special_ids: list[int]) -> dict[str, float]:
    """Top-1 / top-5 accuracy of always predicting the most frequent ordinary training tokens, on the masked
    ``targets`` (IGNORE elsewhere)."""
    counts = torch.bincount(train_stream).double()
    counts[torch.tensor([i for i in special_ids if i < len(counts)], dtype=torch.long)] = -1
    top5 = counts.topk(5).indices
    chosen = targets[targets != IGNORE]
    return {"top1": float((chosen == top5[0]).double().mean()), "top5": float(torch.isin(chosen, top5).double().mean())}


@torch.no_grad()
def masked_accuracy(model: nn.Module, pairs: list[tuple[Tensor, Tensor]]) -> dict[str, float]:
    """Top-1 / top-5 accuracy of the masked LM at the chosen positions, and its cross-entropy."""
    hit1 = hit5 = count = 0
    for inputs, targets in pairs:
        logits = model(inputs).logits  # (B, T, V)
        chosen = targets != IGNORE
        top5 = logits[chosen].topk(5, dim=-1).indices  # (n, 5)
        truth = targets[chosen]
        hit1 += int((top5[:, 0] == truth).sum())
        hit5 += int((top5 == truth[:, None]).any(-1).sum())
        count += int(chosen.sum())
    return {"top1": hit1 / max(1, count), "top5": hit5 / max(1, count), "cross_entropy": mean_loss(model, pairs)}


def bigram_table(stream: Tensor, vocab_size: int) -> dict[str, Tensor]:
    """The training tokens' counts, kept so the baselines can be re-scored later without the corpus:
    {"unigram": (V,) int64, "pair": (N,) int64 flat ids a·V + b of the N distinct adjacent pairs, "count": (N,)}."""
    flat = stream[:-1] * vocab_size + stream[1:]
    pair, count = torch.unique(flat, return_counts=True)
    unigram = torch.bincount(stream, minlength=vocab_size)
    return {"unigram": unigram, "pair": pair.int(), "count": count.int()}  # int32: V² < 2³¹ for V ≤ 46,340


def bigram_cross_entropy_from_table(table: dict[str, Tensor], pairs: Tensor, k: float) -> float:
    """Add-k bigram cross-entropy (nats/token) of (previous, next) pairs ``(N, 2)`` from a :func:`bigram_table`;
    equals :func:`unigram_bigram_cross_entropy`'s bigram for the same k."""
    V = len(table["unigram"])
    pair, count = table["pair"].long(), table["count"].double()
    flat = pairs[:, 0] * V + pairs[:, 1]
    where = torch.searchsorted(pair, flat).clamp(max=len(pair) - 1)
    hits = torch.where(pair[where] == flat, count[where], 0.0)
    row = torch.zeros(V, dtype=torch.float64).index_add_(0, pair // V, count)
    return float(-torch.log((hits + k) / (row[pairs[:, 0]] + k * V)).mean())
