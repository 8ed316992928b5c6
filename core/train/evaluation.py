"""Looking at a model on a task: run any family on a batch, score its logits, evaluate on fresh examples, and
snapshot the attention of one probe example.

    token_accuracy = (right target positions) / (target positions)
    exact_match    = (sequences with every target position right) / (sequences)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.models import EncoderDecoderModel, EncoderOnlyModel, ModelOutput
from core.train.tasks import IGNORE, Batch, Example, Task


def forward_logits(model: nn.Module, batch: Batch, *, return_trace: bool = False) -> ModelOutput:
    """Run any of the three families on a :class:`Batch` -> ModelOutput (logits ``(B, T, V)``)."""
    if isinstance(model, EncoderDecoderModel):
        return model(batch.src, batch.tokens, src_lengths=batch.src_lengths, return_trace=return_trace)
    if isinstance(model, EncoderOnlyModel):
        return model(batch.tokens, lengths=batch.lengths, return_trace=return_trace)
    return model(batch.tokens, return_trace=return_trace)  # causal: end padding never reaches a real position


@dataclass(frozen=True)
class Scores:
    """token_accuracy: share of target positions whose argmax is right; exact_match: share of sequences with every
    target position right (under teacher forcing this equals greedy decoding: each right token feeds the next)."""

    token_accuracy: float
    exact_match: float
    n: int


def score_logits(logits: Tensor, targets: Tensor) -> Scores:
    """logits ``(B, T, V)``, targets ``(B, T)`` (IGNORE off-target) -> :class:`Scores`."""
    scored = targets != IGNORE  # (B, T)
    right = (logits.argmax(-1) == targets) & scored  # (B, T)
    token = right.sum().item() / max(1, scored.sum().item())
    exact = (right | ~scored).all(dim=1).float().mean().item()
    return Scores(token, exact, targets.shape[0])


@torch.no_grad()
def evaluate(
    model: nn.Module, task: Task, *, n: int = 256, seed: int = 12345, split: str = "test", batch_size: int = 256
) -> Scores:
    """Token accuracy and exact match on ``n`` fresh examples of ``split`` drawn with ``seed`` (model in eval mode)."""
    was_training = model.training
    model.eval()
    rng, token_right, exact_right, positions = random.Random(seed), 0.0, 0.0, 0  # running sums over batches
    device = next(model.parameters()).device
    for start in range(0, n, batch_size):
        batch = task.batch(task.sample(rng, min(batch_size, n - start), split)).to(device)
        s = score_logits(forward_logits(model, batch).logits, batch.targets)
        k = int((batch.targets != IGNORE).sum())
        token_right += s.token_accuracy * k
        exact_right += s.exact_match * s.n
        positions += k
    model.train(was_training)
    return Scores(token_right / max(1, positions), exact_right / n, n)


@dataclass(frozen=True)
class AttentionSnapshot:
    """Attention of a fixed probe example at one step. weights ``(L, H, T, T)`` (decoder / encoder self-attention);
    cross ``(L, H, T, S)`` for seq2seq (queries = decoder tokens, keys = source); labels name the axes."""

    step: int
    labels: list[str]
    weights: Tensor
    cross: Tensor | None = None
    source_labels: list[str] | None = None


@torch.no_grad()
def attention_snapshot(model: nn.Module, task: Task, example: Example, step: int = 0) -> AttentionSnapshot:
    """Teacher-forced attention maps of ``example`` (model put in eval mode for the call)."""
    was_training = model.training
    model.eval()
    batch = task.batch([example]).to(next(model.parameters()).device)
    out = forward_logits(model, batch, return_trace=True)
    model.train(was_training)
    tokens = task.vocab.decode(batch.tokens[0])
    weights = torch.stack([layer.self_attn.weights[0] for layer in out.trace]).cpu()  # (L, H, T, T)
    if out.trace[0].cross_attn is None:
        return AttentionSnapshot(step, list(tokens), weights)
    cross = torch.stack([layer.cross_attn.weights[0] for layer in out.trace]).cpu()  # (L, H, T, S)
    return AttentionSnapshot(step, list(tokens), weights, cross, list(task.vocab.decode(batch.src[0])))
