"""Training a tiny transformer on a synthetic task: AdamW, warmup + decay, label smoothing, clipping, callbacks.

One step (teacher forcing: every position sees the true previous tokens, so all positions train in parallel)::

    batch  = task.batch(examples)                       # tokens (B, T), targets (B, T) with IGNORE off-target
    logits = model(batch)                               # (B, T, V)
    loss   = CE(logits, targets; label_smoothing ε)     # mean over target positions
    clip ‖∇‖ to grad_clip;  lr = schedule(step);  AdamW step

Learning-rate schedules (step counts from 1):
    inverse_sqrt (Vaswani et al. 2017)  lr = scale · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)
    cosine                              linear warmup to lr, then lr · (r + (1 - r)(1 + cos(π t)) / 2)
    constant                            linear warmup to lr, then lr

A :class:`Trainer` owns the model, optimizer, data RNG and torch RNG state, so a run is deterministic for its seed
on CPU (other code drawing random numbers in between does not disturb it) and can be resumed after an interruption.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from core.models import (
    DecoderConfig,
    DecoderOnlyModel,
    EncoderConfig,
    EncoderDecoderModel,
    EncoderOnlyModel,
    Seq2SeqConfig,
    TransformerConfig,
)
from core.train.evaluation import (
    AttentionSnapshot,
    Scores,
    attention_snapshot,
    evaluate,
    forward_logits,
    score_logits,
)
from core.train.tasks import IGNORE, Example, Task

FAMILIES: dict[str, tuple[type[TransformerConfig], type[nn.Module]]] = {
    "decoder": (DecoderConfig, DecoderOnlyModel),
    "seq2seq": (Seq2SeqConfig, EncoderDecoderModel),
    "encoder": (EncoderConfig, EncoderOnlyModel),
}
SCHEDULES: tuple[str, ...] = ("inverse_sqrt", "cosine", "constant")


@dataclass(frozen=True)
class ModelSpec:
    """The architecture a learner picks; the task fixes the vocabulary and the longest sequence.

    positional="learned": one trained vector per absolute position, which makes the position lookups of copy,
    reverse and sort easy. d_ff None = 4 · d_model.
    """

    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 64
    d_ff: int | None = None
    positional: str = "learned"
    dropout: float = 0.0
    norm_first: bool = True


def model_config(task: Task, spec: ModelSpec) -> TransformerConfig:
    """The frozen model config for ``task`` with ``spec`` (EncoderConfig / DecoderConfig / Seq2SeqConfig)."""
    config_cls, _ = FAMILIES[task.family]
    return config_cls(
        vocab_size=len(task.vocab), d_model=spec.d_model, n_heads=spec.n_heads, n_layers=spec.n_layers,
        d_ff=spec.d_ff or 4 * spec.d_model, max_len=task.max_positions, dropout=spec.dropout,
        norm_first=spec.norm_first, positional=spec.positional,
    )  # fmt: skip


def build_model(config: TransformerConfig, *, seed: int = 0) -> nn.Module:
    """A freshly initialised model of the family ``config`` belongs to, its weights drawn from ``seed``."""
    model_cls = next(m for c, m in FAMILIES.values() if type(config) is c)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config)


@dataclass(frozen=True)
class TrainConfig:
    """lr: the peak learning rate (reached at step = warmup); for "inverse_sqrt", lr=None is the paper's exact
    schedule (peak d_model^-0.5 · warmup^-0.5). snapshot_every K > 0: an attention snapshot every K steps.
    eval_every > 0: held-out exact match on eval_size examples every eval_every steps; target: stop early once
    such a check reaches this exact match (None: run all steps)."""

    steps: int = 800
    batch_size: int = 64
    lr: float | None = 3e-3
    schedule: str = "cosine"
    warmup: int = 50
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    label_smoothing: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    snapshot_every: int = 0
    eval_every: int = 0
    eval_size: int = 256
    target: float | None = None

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if self.lr is None and self.schedule != "inverse_sqrt":
            raise ValueError("lr=None (the paper's exact value) only applies to schedule='inverse_sqrt'")
        if self.steps < 1 or self.batch_size < 1 or self.warmup < 0:
            raise ValueError("steps and batch_size must be >= 1 and warmup >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing})")


def learning_rate(step: int, cfg: TrainConfig, d_model: int) -> float:
    """The learning rate at ``step`` (1-based) under ``cfg.schedule`` (formulas in the module docstring)."""
    step, warmup = max(1, step), max(1, cfg.warmup)
    if cfg.schedule == "inverse_sqrt":
        paper = d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)
        return paper if cfg.lr is None else paper * cfg.lr / (d_model**-0.5 * warmup**-0.5)  # scaled to peak lr
    if step < warmup:
        return cfg.lr * step / warmup
    if cfg.schedule == "constant":
        return cfg.lr
    t = (step - warmup) / max(1, cfg.steps - warmup)  # 0 -> 1 over the decay
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


@dataclass
class Progress:
    """What a callback sees after each step. Set ``stop = True`` to end training after this step."""

    step: int
    steps: int
    loss: float
    token_accuracy: float
    exact_match: float
    lr: float
    elapsed_s: float
    snapshot: AttentionSnapshot | None = None
    held_out: Scores | None = None
    stop: bool = False


@dataclass
class History:
    """Per-step curves of a run (lists, one entry per step), held-out checks, attention snapshots."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    token_accuracy: list[float] = field(default_factory=list)
    exact_match: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_exact_match: list[float] = field(default_factory=list)
    snapshots: list[AttentionSnapshot] = field(default_factory=list)
    elapsed_s: float = 0.0
    stopped: bool = False
    target_reached: tuple[int, float] | None = None  # (step, training seconds) of the first check >= target


class Trainer:
    """Trains ``model`` on ``task`` with ``cfg``; :meth:`run` can be called again to resume where it stopped."""

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, *, probe: Example | None = None) -> None:
        self.model, self.task, self.cfg = model, task, cfg
        self.device = next(model.parameters()).device
        decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay; biases, norms and gains do not
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        # fused: one kernel for all parameters (on a small CPU model ~8x faster than the per-tensor loop)
        self.optimizer = torch.optim.AdamW(groups, lr=0.0, betas=cfg.betas, eps=cfg.eps, fused=True)
        self.data_rng = random.Random(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.torch_rng = torch.get_rng_state()  # dropout draws from this state only
        self.probe = probe or task.example()
        self.step = 0
        self.history = History()

    @property
    def done(self) -> bool:
        """All steps run, or the target reached."""
        return self.step >= self.cfg.steps or self.history.target_reached is not None

    def train_step(self) -> tuple[float, Scores, float]:
        """One optimisation step -> (loss, training-batch scores, learning rate used)."""
        self.step += 1
        lr = learning_rate(self.step, self.cfg, self.model.config.d_model)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.task.batch(self.task.sample(self.data_rng, self.cfg.batch_size)).to(self.device)
        self.model.train()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.torch_rng)
            logits = forward_logits(self.model, batch).logits  # (B, T, V)
            self.torch_rng = torch.get_rng_state()
        loss = F.cross_entropy(
            logits.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE, label_smoothing=self.cfg.label_smoothing
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        return loss.item(), score_logits(logits.detach(), batch.targets), lr

    def run(self, callback: Callable[[Progress], None] | None = None, *, max_steps: int | None = None) -> History:
        """Train until ``cfg.steps``, the target, ``max_steps`` more steps, or a callback setting ``progress.stop``."""
        h, cfg = self.history, self.cfg
        last = min(cfg.steps, cfg.steps if max_steps is None else self.step + max_steps)
        if self.step == 0 and cfg.snapshot_every:
            h.snapshots.append(attention_snapshot(self.model, self.task, self.probe, 0))
        while self.step < last and not self.done:
            start = time.perf_counter()
            loss, scores, lr = self.train_step()
            held_out = self._check_held_out()
            reached = held_out is not None and cfg.target is not None and held_out.exact_match >= cfg.target
            snapshot = None
            if cfg.snapshot_every and (self.step % cfg.snapshot_every == 0 or self.done or reached):
                snapshot = attention_snapshot(self.model, self.task, self.probe, self.step)
                h.snapshots.append(snapshot)
            h.elapsed_s += time.perf_counter() - start
            if reached:
                h.target_reached = (self.step, h.elapsed_s)  # ends the loop: self.done is now True
            for name, value in (("steps", self.step), ("loss", loss), ("token_accuracy", scores.token_accuracy),
                                ("exact_match", scores.exact_match), ("lr", lr)):  # fmt: skip
                getattr(h, name).append(value)
            if callback is not None:
                progress = Progress(self.step, cfg.steps, loss, scores.token_accuracy, scores.exact_match, lr,
                                    h.elapsed_s, snapshot, held_out)  # fmt: skip
                callback(progress)
                if progress.stop:
                    h.stopped = True
                    break
        self.model.eval()
        return h

    def _check_held_out(self) -> Scores | None:
        """Every eval_every steps (and at the last step): the held-out scores, recorded in the history."""
        cfg, h = self.cfg, self.history
        if not cfg.eval_every or (self.step % cfg.eval_every and self.step != cfg.steps):
            return None
        held_out = evaluate(self.model, self.task, n=cfg.eval_size, seed=cfg.seed + 2)
        h.eval_steps.append(self.step)
        h.eval_exact_match.append(held_out.exact_match)
        return held_out


def train(
    model: nn.Module, task: Task, cfg: TrainConfig, callback: Callable[[Progress], None] | None = None
) -> History:
    """Train ``model`` in place from step 0 to ``cfg.steps`` (see :class:`Trainer`) and return its history."""
    return Trainer(model, task, cfg).run(callback)


@dataclass(frozen=True)
class Recipe:
    """A task, an architecture and a training config: everything needed to reproduce a model from its seed."""

    task: str
    spec: ModelSpec
    train: TrainConfig


# What the "Train it yourself" page starts with: up to 1000 steps, stopping once 512 held-out examples are 99% right
# (bench/bench_training.py measures the time on the course's CPU).
QUICK_START = Recipe(
    "reverse", ModelSpec(n_layers=2, n_heads=4, d_model=64, positional="rope"),
    TrainConfig(steps=1000, batch_size=64, lr=5e-3, schedule="cosine", warmup=100, snapshot_every=50, eval_every=50,
                eval_size=512, target=0.99),
)  # fmt: skip
