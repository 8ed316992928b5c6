"""Pretrained checkpoints already on this machine, offered in the text-model pickers (never a typed path).

Where the app looks (the operator decides; a learner only picks from what is found):

- ``$ATTENTION_LAB_MODEL_DIRS``: folders separated by ``os.pathsep`` (":" on Linux); each is a model folder (it has a
  ``config.json``) or a folder of model folders;
- the local Hugging Face cache, offline: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``
  (``models--<org>--<name>/snapshots/<revision>/``, the newest revision).

A folder is offered when its ``config.json`` names an architecture the core can run (:data:`SUPPORTED`); others are
listed with the reason, so the operator sees why a model is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "ATTENTION_LAB_MODEL_DIRS"
LOCAL_PREFIX = "local:"
SUPPORTED: dict[str, str] = {"gpt2": "decoder", "llama": "decoder", "mistral": "decoder", "bert": "encoder"}


@dataclass(frozen=True)
class LocalModel:
    """A checkpoint folder found on disk: ``key`` is what pickers hold ("local:<name>"); ``kind`` decoder/encoder;
    ``problem`` says why it cannot be offered (None when it can)."""

    key: str
    name: str
    path: Path
    model_type: str
    kind: str | None
    problem: str | None = None


def _read(folder: Path, name: str) -> LocalModel | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    try:
        model_type = str(json.loads(config.read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return LocalModel(LOCAL_PREFIX + name, name, folder, "?", None, f"{folder}: config.json is not valid JSON")
    kind = SUPPORTED.get(model_type)
    problem = None
    if kind is None:
        problem = f"{name}: architecture '{model_type or 'unknown'}' is not supported (supported: {', '.join(SUPPORTED)})"
    elif not any(folder.glob("*.safetensors")):
        problem = (f"{name}: no *.safetensors weights (only safetensors are loaded; convert a pytorch_model.bin with "
                   "transformers: from_pretrained(folder).save_pretrained(folder, safe_serialization=True))")
    return LocalModel(LOCAL_PREFIX + name, name, folder, model_type, kind, problem)


def _hub_cache(env: Mapping[str, str]) -> Path:
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"])
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]) / "hub"
    return Path(env.get("HOME", str(Path.home()))) / ".cache" / "huggingface" / "hub"


def _cached_snapshots(hub: Path) -> list[tuple[str, Path]]:
    """(org/name, newest snapshot folder) for every model in a Hugging Face hub cache."""
    found = []
    for repo in sorted(hub.glob("models--*")) if hub.is_dir() else []:
        snapshots = [s for s in (repo / "snapshots").glob("*") if s.is_dir()]
        if snapshots:
            name = repo.name.removeprefix("models--").replace("--", "/")
            found.append((name, max(snapshots, key=lambda s: s.stat().st_mtime)))
    return found


def discover_local_models(env: Mapping[str, str] | None = None) -> list[LocalModel]:
    """Every checkpoint folder in ``$ATTENTION_LAB_MODEL_DIRS`` and the Hugging Face cache (see module docstring),
    each name once (the operator's folders first)."""
    env = os.environ if env is None else env
    candidates: list[tuple[str, Path]] = []
    for entry in filter(None, env.get(ENV_VAR, "").split(os.pathsep)):
        root = Path(entry).expanduser()
        if (root / "config.json").is_file():
            candidates.append((root.name, root))
        elif root.is_dir():
            candidates += [(child.name, child) for child in sorted(root.iterdir()) if child.is_dir()]
    candidates += _cached_snapshots(_hub_cache(env))
    found: dict[str, LocalModel] = {}
    for name, folder in candidates:
        model = _read(folder, name)
        if model is not None and model.key not in found:
            found[model.key] = model
    return list(found.values())
