"""ui.model_folders: checkpoints found in the operator's folders and the Hugging Face cache, offline; unusable ones
named with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from ui.model_folders import ENV_VAR, discover_local_models


def _model(folder: Path, model_type: str, weights: str | None = "model.safetensors") -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    if weights:
        (folder / weights).write_bytes(b"x")
    return folder


def test_operator_folders_and_the_hub_cache_are_found(tmp_path):
    _model(tmp_path / "mine" / "tiny-gpt2", "gpt2")
    _model(tmp_path / "mine" / "tiny-bert", "bert")
    single = _model(tmp_path / "single-llama", "llama")
    hub = tmp_path / "hub"
    _model(hub / "models--org--cached-gpt2" / "snapshots" / "abc123", "gpt2")
    env = {ENV_VAR: f"{tmp_path / 'mine'}:{single}", "HF_HUB_CACHE": str(hub)}
    found = {m.key: m for m in discover_local_models(env)}
    assert set(found) == {"local:tiny-gpt2", "local:tiny-bert", "local:single-llama", "local:org/cached-gpt2"}
    assert found["local:tiny-bert"].kind == "encoder" and found["local:single-llama"].kind == "decoder"
    assert all(m.problem is None for m in found.values())
    assert found["local:org/cached-gpt2"].path.name == "abc123"


def test_unusable_folders_say_why(tmp_path):
    _model(tmp_path / "t5-small", "t5")
    _model(tmp_path / "old-gpt2", "gpt2", weights="pytorch_model.bin")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "not-a-model").mkdir()
    found = {m.name: m for m in discover_local_models({ENV_VAR: str(tmp_path), "HOME": str(tmp_path / "nohome")})}
    assert set(found) == {"t5-small", "old-gpt2", "broken"}
    assert "'t5' is not supported" in found["t5-small"].problem
    assert "safe_serialization=True" in found["old-gpt2"].problem
    assert "not valid JSON" in found["broken"].problem


def test_nothing_configured_finds_nothing(tmp_path):
    assert discover_local_models({"HOME": str(tmp_path)}) == []
