"""Model files: weights as safetensors (plain tensors, never a pickle) beside a small JSON card.

    models/<name>.safetensors   the state dict (a tied output head stored once, as the embedding)
    models/<name>.json          the card: task, model config, training config, seed, held-out scores, training
                                time, date, parameter count and a down-sampled training curve

Loading reads the card, builds the model from its config and fills it with ``safetensors.torch.load_file``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from core.train.tasks import get_task
from core.train.training import FAMILIES, History

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
CURVE_POINTS = 200


def _unique_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with each shared tensor (tied weights) kept once, under its first name."""
    seen: set[int] = set()
    state = {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor.detach().cpu().contiguous()
    return state


def downsample_curve(history: History, points: int = CURVE_POINTS) -> dict[str, list[float]]:
    """Every k-th step of the training curves (and the last), so a card stays a few KB."""
    k = max(1, len(history.steps) // points)
    idx = list(range(0, len(history.steps), k))
    if history.steps and idx[-1] != len(history.steps) - 1:
        idx.append(len(history.steps) - 1)
    names = ("steps", "loss", "token_accuracy", "exact_match")
    curve = {name: [getattr(history, name)[i] for i in idx] for name in names}
    curve["eval_steps"], curve["eval_exact_match"] = list(history.eval_steps), list(history.eval_exact_match)
    return curve


def save_model(model: nn.Module, path_stem: Path | str, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; the card gets config, family, parameter count, file size,
    date and torch version added. ``card`` must name its ``task``. Returns the full card."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    family = next(name for name, (_, cls) in FAMILIES.items() if type(model) is cls)
    save_file(_unique_state(model), str(weights), metadata={"task": card["task"], "family": family})
    full = {
        "name": stem.name, **card, "family": family, "model_class": type(model).__name__,
        "config": dataclasses.asdict(model.config), "n_parameters": model.n_parameters(),
        "file_bytes": weights.stat().st_size, "date": card.get("date", datetime.date.today().isoformat()), "torch": torch.__version__,
    }  # fmt: skip
    if "tokenizer" not in card:  # a task model: its vocabulary is the task's symbols
        full["vocab"] = "".join(get_task(card["task"]).vocab.symbols)
    stem.with_suffix(".json").write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    return full


def read_card(path_stem: Path | str) -> dict[str, Any]:
    return json.loads(Path(path_stem).with_suffix(".json").read_text(encoding="utf-8"))


@dataclasses.dataclass(frozen=True)
class CardKind:
    """What a listing needs from a card: its model family and whether it names a tokenizer (an English model)."""

    family: str | None
    english: bool


def card_kind(card_path: Path) -> CardKind:
    """:class:`CardKind` of the card at ``card_path``, read once per version of the file (its mtime and size): the
    pages list the shipped models on every rerun, and a card's training curves make it slow to parse each time."""
    stat = card_path.stat()
    return _card_kind(str(card_path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _card_kind(card_path: str, mtime_ns: int, size: int) -> CardKind:
    card = read_card(card_path)
    return CardKind(card.get("family"), "tokenizer" in card)


def load_model(path_stem: Path | str, *, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, card) from ``<stem>.json`` + ``<stem>.safetensors``.

    Raises ValueError when the weights do not match the card's config or the task's vocabulary changed.
    """
    stem = Path(path_stem)
    card = read_card(stem)
    if "tokenizer" not in card and "".join(get_task(card["task"]).vocab.symbols) != card["vocab"]:
        raise ValueError(f"{stem.name}: the {card['task']} task's vocabulary changed since the model was trained")
    config_cls, model_cls = FAMILIES[card["family"]]
    model = model_cls(config_cls(**card["config"]))
    missing, unexpected = model.load_state_dict(load_file(str(stem.with_suffix(".safetensors"))), strict=False)
    tied = {"lm_head.weight"} if model.config.tie_weights else set()
    if unexpected or set(missing) - tied:
        raise ValueError(f"{stem.name}: weights do not match the config (missing {missing}, unexpected {unexpected})")
    return model.to(device).eval(), card


def shipped_names(models_dir: Path | str = MODELS_DIR) -> list[str]:
    """Names of the task models (a family of :data:`FAMILIES`, reading a task's symbols) with both a card and weights
    in ``models_dir``, sorted. The English models (cards naming a ``tokenizer``) load through core.text_model; the
    digits ViT (family "vit") through core.train.vit_training."""
    d = Path(models_dir)
    kinds = {p.stem: card_kind(p) for p in d.glob("*.json") if p.with_suffix(".safetensors").is_file()}
    return sorted(name for name, kind in kinds.items() if kind.family in FAMILIES and not kind.english)
