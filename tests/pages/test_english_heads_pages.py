"""The English models on the multi-head page and in the model explorer: the maps and the head-role grid equal the
core's numbers, trained vs untrained and layer pickers change them, bad text gets a message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lab.text_head_roles import text_model_head_roles
from core.text_model import encode_text, load_text_model, run_text, untrained_twin
from tests.apptest_utils import chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as values
from ui.head_roles import N_SENTENCES
from ui.text_models import DEFAULT_SENTENCE

MHA, EXPLORER = "pages/multihead_positions/multi_head.py", "pages/training/model_explorer.py"


def chart(at, title_start: str) -> dict:
    found = [s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(title_start)]
    assert len(found) == 1, (title_start, [s["layout"]["title"]["text"] for s in chart_specs(at)])
    return found[0]


def close(shown: np.ndarray, expected: torch.Tensor) -> None:
    torch.testing.assert_close(torch.from_numpy(np.nan_to_num(shown, nan=0.0)), expected.double(), rtol=1e-5,
                               atol=1e-6)  # fmt: skip


def attention(name: str, text: str, untrained_seed: int | None = None) -> torch.Tensor:
    tm = load_text_model(name)
    if untrained_seed is not None:
        tm = untrained_twin(tm, untrained_seed)
    return run_text(tm, encode_text(tm, text).ids).attention  # (L, H, T, T)


@pytest.fixture(scope="module")
def mha():
    at = open_page(MHA)
    assert not at.exception, error_messages(at)
    return at


def test_multi_head_shows_the_trained_gpt_heads_on_the_default_sentence(mha):
    expected = attention("english-gpt", DEFAULT_SENTENCE)
    grid = chart(mha, "english-gpt, layer 0: all 4 heads")["data"]
    for h in range(4):
        close(values(grid[h]["z"]), expected[0, h])
    assert any("trained english-gpt" in c.value.replace("\\", "") for c in mha.caption)


def test_multi_head_role_grid_equals_the_core(mha):
    roles = text_model_head_roles(load_text_model("english-gpt"), n_sentences=N_SENTENCES)
    trace = chart(mha, "What each head of english-gpt does (trained)")["data"][0]
    strongest = roles.strongest()
    z = values(trace["z"])
    for layer, row in enumerate(strongest):
        for head, (_role, score) in enumerate(row):
            assert z[layer, head] == pytest.approx(score, abs=1e-6)  # float32 sums: bit-equal only on one thread layout
            assert f"{score:.2f}" in trace["text"][layer][head]


def test_multi_head_layer_and_untrained_switch_change_the_maps():
    at = open_page(MHA)
    at.selectbox(key="multi_head_english_layer").set_value(2).run()
    grid = chart(at, "english-gpt, layer 2")["data"]
    close(values(grid[1]["z"]), attention("english-gpt", DEFAULT_SENTENCE)[2, 1])
    at.radio(key="multi_head_english_weights").set_value("untrained").run()
    assert not at.exception, error_messages(at)
    untrained = chart(at, "english-gpt, layer 2")["data"]
    seed = at.session_state["settings_seed"] if "settings_seed" in at.session_state else 0
    close(values(untrained[1]["z"]), attention("english-gpt", DEFAULT_SENTENCE, seed)[2, 1])
    assert chart(at, "What each head of english-gpt does (untrained)")


def test_multi_head_english_text_problems_get_messages():
    at = open_page(MHA)
    at.text_input(key="multi_head_english_text").set_value("   ").run()
    assert not at.exception and any("empty" in w.value for w in at.warning)
    at.text_input(key="multi_head_english_text").set_value("emoji 😀 and " + "word " * 80).run()
    assert not at.exception, error_messages(at)
    assert any("cut after token" in i.value for i in at.info)


def test_explorer_defaults_to_the_english_gpt_and_its_next_token_table():
    at = open_page(EXPLORER)
    assert not at.exception, error_messages(at)
    expected = attention("english-gpt", DEFAULT_SENTENCE)
    L, H = expected.shape[:2]
    grid = chart(at, "english-gpt (trained): causal self-attention")["data"]
    assert len(grid) == L * H
    close(values(grid[L * H - 1]["z"]), expected[L - 1, H - 1])
    tm = load_text_model("english-gpt")
    logits = run_text(tm, encode_text(tm, DEFAULT_SENTENCE).ids).logits[-1].double()
    best = int(logits.argmax())
    table = at.dataframe[0].value
    assert table["token"].iloc[0] == repr(tm.tokenizer.readable_token(best))
    assert table["probability"].iloc[0] == f"{float(logits.softmax(-1)[best]):.1%}"


def test_explorer_bert_reads_mask_and_heads_change_the_zoom():
    at = open_page(EXPLORER)
    at.selectbox(key="model_explorer_english").set_value("english-bert").run()
    at.text_input(key="model_explorer_english_text").set_value("The cat sat on the [MASK].").run()
    assert not at.exception, error_messages(at)
    expected = attention("english-bert", "The cat sat on the [MASK].")
    close(values(chart(at, "Layer 0, head 0")["data"][0]["z"]), expected[0, 0])
    at.selectbox(key="model_explorer_head").set_value(3).run()
    close(values(chart(at, "Layer 0, head 3")["data"][0]["z"]), expected[0, 3])
    assert "[MASK]" in at.markdown[-1].value or any("[MASK]" in m.value for m in at.markdown)
