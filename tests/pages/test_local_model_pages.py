"""A checkpoint folder the operator names (here a tiny random GPT-2 saved by `transformers`) appears in the English
model pickers, runs exactly as core.text_model loads it, and the memory guard refuses one that is too big before
loading it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from core.text_model import encode_text, load_text_model, run_text
from core.train.checkpoints import MODELS_DIR
from tests.apptest_utils import chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as values
from ui.model_folders import ENV_VAR
from ui.text_models import DEFAULT_SENTENCE, local_models

transformers = pytest.importorskip("transformers")
MHA, GENERATION = "pages/multihead_positions/multi_head.py", "pages/training/generation.py"
KEY = "local:tiny-gpt2"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("operator-models")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=4096, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=4091,
                                     eos_token_id=4091)  # <|endoftext|> of the English BPE
    transformers.GPT2LMHeadModel(cfg).save_pretrained(root / "tiny-gpt2", safe_serialization=True)
    (root / "t5-small").mkdir()
    (root / "t5-small" / "config.json").write_text('{"model_type": "t5"}')  # found, not offered: named with why
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(MODELS_DIR / "english-bpe" / name, root / "tiny-gpt2" / name)
    return root


@pytest.fixture
def operator_env(folders, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(folders))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    local_models.clear()
    yield folders
    local_models.clear()


def test_a_local_gpt2_is_offered_and_its_heads_equal_the_core(operator_env):
    at = open_page(MHA)
    box = at.selectbox(key="multi_head_english")
    assert f"{KEY} (GPT-style, causal)" in box.options and not any("t5" in o for o in box.options)
    assert any("t5-small: architecture 't5' is not supported" in c.value.replace("\\", "") for c in at.caption)
    box.set_value(KEY).run()
    assert not at.exception, error_messages(at)
    tm = load_text_model(operator_env / "tiny-gpt2")
    expected = run_text(tm, encode_text(tm, DEFAULT_SENTENCE).ids).attention  # (L, H, T, T)
    grid = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(f"{KEY}, layer 0"))["data"]
    for h in range(4):
        torch.testing.assert_close(torch.from_numpy(np.nan_to_num(values(grid[h]["z"]))), expected[0, h].double(),
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
    assert any("a local GPT2LMHeadModel checkpoint" in c.value.replace("\\", "") for c in at.caption)


def test_generation_runs_a_local_gpt2(operator_env):
    at = open_page(GENERATION)
    at.selectbox(key="generation_english").set_value(KEY).run()
    assert not at.exception, error_messages(at)
    assert chart_specs(at)


def test_a_checkpoint_bigger_than_the_budget_is_refused_before_loading(operator_env, monkeypatch):
    import core.hf_import
    import ui.text_models

    monkeypatch.setattr(core.hf_import, "hf_parameter_bytes", lambda path: 64 << 30)  # as if it were 64 GiB
    loads, real_load = [], ui.text_models.load_text_model
    monkeypatch.setattr(ui.text_models, "load_text_model", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    at = open_page(MHA)
    at.selectbox(key="multi_head_english").set_value(KEY).run()
    assert not at.exception, error_messages(at)
    assert any("more than the memory budget" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not [a for a in loads if "tiny-gpt2" in str(a[0])], loads  # refused before anything was read
