"""Training the small digits ViT, measuring it, and its model files (safetensors + JSON card, as the text models).

One step, on a batch of B training digits x ``(B, 1, 8, 8)`` in [0, 1] with labels y ``(B,)``::

    x      = shift(x)                                  # each image moved by up to ``max_shift`` pixels (zeros in)
    logits = TinyViT(x).logits                         # (B, 10): the head on the final [CLS] vector
    loss   = CE(logits, y; label smoothing ε)
    clip ‖∇‖ to grad_clip;  lr = core.train.training.learning_rate(step);  AdamW step (matrices decay)

The card has the text models' fields (task, description, seed, spec, train, held_out, training_time_s, steps,
threads, curve, family, model_class, config, n_parameters, file_bytes, date, torch) plus ``data`` (source, licence,
split seed and sizes) and ``device``. Its family is "vit": :func:`core.train.checkpoints.load_model` (text models)
does not list or load it; :func:`load_vit` does.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from core.models import count_parameters
from core.train.digits import SOURCE, SPLIT_SEED, DigitSplit, to_model_input
from core.train.training import TrainConfig, learning_rate
from core.vit import TinyViT, ViTConfig

VIT_FAMILY, DIGITS_TASK = "vit", "digits"
DESCRIPTION = "Classify a handwritten digit (8×8 grey, 0–16) as 0–9 from its [CLS] token."
CURVE_POINTS = 200


@dataclasses.dataclass(frozen=True)
class ViTRecipe:
    """Everything needed to reproduce the digits ViT from its seed: architecture, training config, augmentation."""

    config: ViTConfig
    train: TrainConfig
    max_shift: int = 1


def build_vit(config: ViTConfig, *, seed: int) -> TinyViT:
    """A freshly initialised TinyViT of ``config``, its weights drawn from ``seed`` (the global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyViT(config)


def shift_batch(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Move each image ``(B, C, H, W)`` by its own (dy, dx) in -max_shift..max_shift, zeros entering: the digits are
    centred by size normalisation, so a pixel or two of placement is noise the model should not depend on."""
    if max_shift == 0:
        return images
    B, _, H, W = images.shape
    padded = F.pad(images, (max_shift,) * 4)  # (B, C, H + 2s, W + 2s)
    offsets = torch.randint(0, 2 * max_shift + 1, (B, 2), generator=generator)  # top-left corner of each crop
    rows = offsets[:, 0, None] + torch.arange(H)  # (B, H): the padded rows image b keeps
    cols = offsets[:, 1, None] + torch.arange(W)  # (B, W)
    crops = padded.permute(0, 2, 3, 1)[torch.arange(B)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return crops.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


@torch.no_grad()
def class_probabilities(model: TinyViT, images: np.ndarray, *, batch_size: int = 512) -> Tensor:
    """softmax(logits) of digits ``(n, 8, 8)`` in 0..16 -> ``(n, n_classes)`` (model in eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    x = to_model_input(images).to(device)  # (n, 1, 8, 8)
    return torch.cat([model(x[i : i + batch_size]).logits.softmax(-1).cpu() for i in range(0, len(x), batch_size)])


def accuracy(model: TinyViT, split: DigitSplit) -> float:
    """Share of ``split``'s digits whose most probable class is the label."""
    predicted = class_probabilities(model, split.images).argmax(-1).numpy()
    return float((predicted == split.labels).mean())


def train_vit(model: TinyViT, recipe: ViTRecipe, splits: dict[str, DigitSplit],
              callback: Callable[[int, float, float | None], None] | None = None) -> dict[str, list[float]]:
    """Train ``model`` in place on ``splits["train"]`` for ``recipe.train.steps`` steps (batches drawn without
    replacement, reshuffled each epoch, from ``recipe.train.seed``). Every ``eval_every`` steps the valid accuracy is
    measured and ``callback(step, loss, valid_accuracy)`` called. -> curves {steps, loss, eval_steps, valid_accuracy}.
    """
    cfg, train = recipe.train, splits["train"]
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=0.0, betas=cfg.betas, eps=cfg.eps)
    generator = torch.Generator().manual_seed(cfg.seed)
    x_all, y_all = to_model_input(train.images), torch.as_tensor(train.labels)  # (n, 1, 8, 8), (n,)
    curves: dict[str, list[float]] = {"steps": [], "loss": [], "eval_steps": [], "valid_accuracy": []}
    order, at = torch.randperm(len(y_all), generator=generator), 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # dropout draws from here only
        for step in range(1, cfg.steps + 1):
            if at + cfg.batch_size > len(order):
                order, at = torch.randperm(len(y_all), generator=generator), 0
            idx, at = order[at : at + cfg.batch_size], at + cfg.batch_size
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, cfg, model.config.d_model)
            model.train()
            logits = model(shift_batch(x_all[idx], recipe.max_shift, generator)).logits  # (B, 10)
            loss = F.cross_entropy(logits, y_all[idx], label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            curves["steps"].append(step)
            curves["loss"].append(loss.item())
            valid = None
            if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                valid = accuracy(model, splits["valid"])
                curves["eval_steps"].append(step)
                curves["valid_accuracy"].append(valid)
            if callback is not None:
                callback(step, loss.item(), valid)
    model.eval()
    return curves


def downsample(curves: dict[str, list[float]], points: int = CURVE_POINTS) -> dict[str, list[float]]:
    """Every k-th training step (and the last), so the card stays a few KB; the valid checks kept whole."""
    n = len(curves["steps"])
    idx = list(range(0, n, max(1, n // points)))
    if n and idx[-1] != n - 1:
        idx.append(n - 1)
    return {"steps": [curves["steps"][i] for i in idx], "loss": [curves["loss"][i] for i in idx],
            "eval_steps": curves["eval_steps"], "valid_accuracy": curves["valid_accuracy"]}


def save_vit(model: TinyViT, path_stem: Path | str, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``<stem>.safetensors`` (the state dict, float32) and ``<stem>.json`` (``card`` plus family, class,
    config, parameter count, file size, data source, date and torch version). Returns the full card."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    state = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    save_file(state, str(weights), metadata={"task": DIGITS_TASK, "family": VIT_FAMILY})
    full = {
        "name": stem.name, "task": DIGITS_TASK, "description": DESCRIPTION, **card, "family": VIT_FAMILY,
        "model_class": type(model).__name__, "config": dataclasses.asdict(model.config),
        "n_parameters": count_parameters(model)["total"], "file_bytes": weights.stat().st_size,
        "date": card.get("date", datetime.date.today().isoformat()), "torch": torch.__version__,
    }  # fmt: skip
    stem.with_suffix(".json").write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    return full


def load_vit(path_stem: Path | str, *, device: torch.device | str = "cpu") -> tuple[TinyViT, dict[str, Any]]:
    """(model in eval mode, card) from ``<stem>.json`` + ``<stem>.safetensors``; every tensor must match the
    card's config (strict), else ValueError."""
    stem = Path(path_stem)
    card = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    if card.get("family") != VIT_FAMILY:
        raise ValueError(f"{stem.name} is a {card.get('family')!r} model, not a ViT")
    model = TinyViT(ViTConfig(**card["config"]))
    try:
        model.load_state_dict(load_file(str(stem.with_suffix(".safetensors"))), strict=True)
    except RuntimeError as err:
        raise ValueError(f"{stem.name}: weights do not match the card's config ({err})") from err
    return model.to(device).eval(), card


def data_card(splits: dict[str, DigitSplit], seed: int = SPLIT_SEED) -> dict[str, Any]:
    """The card's ``data`` entry: where the digits come from, their licence, and the split."""
    return {**SOURCE, "split_seed": seed, "split": "stratified by class (sklearn train_test_split)",
            "sizes": {name: len(split) for name, split in splits.items()}}

