"""The one input picker (ui.inputs.pick_input), headless: its typed value follows the widgets, models are picked by
key (labels only for display), and the pages draw what the value says — a change of source changes the figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.generation import head_inputs
from core.lab.toy_inputs import word_tokens
from core.train.checkpoints import MODELS_DIR, load_model
from core.train.tasks import get_task
from figures.attention_steps import token_labels
from tests.apptest_utils import TIMEOUT_S, chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as values

ROOT = Path(__file__).resolve().parents[2]
STEP, MHA = "pages/foundations/attention_step_by_step.py", "pages/multihead_positions/multi_head.py"


def _picker_script():
    """A page of one picker: every source, the value kept in session state for the test to read."""
    import streamlit as st

    from ui.inputs import ModelBox, pick_input

    picked = pick_input("picker", random=True, model=ModelBox("Trained model", "trained", ("decoder",), yours=False))
    st.session_state["picked"] = picked


def _picker() -> AppTest:
    at = AppTest.from_function(_picker_script, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, error_messages(at)
    return at


def _weights(at) -> dict:
    """The step-by-step page's softmax-weights chart (its data)."""
    return next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("4 · softmax weights"))["data"][0]


def test_the_picked_value_follows_every_source():
    at = _picker()
    picked = at.session_state["picked"]
    default = at.text_input(key="picker_text").value
    assert (picked.source, picked.text, picked.words, picked.model, picked.problem) == (
        "sentence", default, tuple(word_tokens(default)), None, None)

    at.text_input(key="picker_text").input("   ").run()
    assert at.session_state["picked"].problem and at.session_state["picked"].words == ()  # says why, holds no words

    at.radio(key="picker_mode").set_value("random").run()
    at.slider(key="picker_length").set_value(5).run()
    picked = at.session_state["picked"]
    assert (picked.source, picked.words) == ("random", ("t0", "t1", "t2", "t3", "t4"))

    at.radio(key="picker_mode").set_value("model").run()
    assert not at.exception, error_messages(at)
    box = at.selectbox(key="picker_trained")
    picked = at.session_state["picked"]
    assert picked.model.key == box.value == picked.model.shipped  # identified by its name, the selectbox's value
    assert box.options[box.index] == f"shipped · {box.value}" == picked.model.label  # the label is display only
    assert (picked.source, picked.text, picked.problem) == ("model", picked.model.task.default_input, None)
    at.text_input(key=f"picker_text_{picked.model.task.name}").input("ab🤖").run()
    assert "'🤖'" in at.session_state["picked"].problem


def test_the_source_radio_and_model_picker_show_labels_but_hold_keys():
    at = _picker()
    radio = at.radio(key="picker_mode")
    assert radio.options == ["Your words, random weights", "Random tokens", "A task model"] and radio.value == "sentence"
    at.radio(key="picker_mode").set_value("A task model").run()  # a label given back (as a browser does) works
    assert at.session_state["picked"].source == "model"
    other = at.selectbox(key="picker_trained").options[-1]
    at.selectbox(key="picker_trained").select(other).run()
    assert not at.exception, error_messages(at)
    assert at.session_state["picked"].model.key == other.removeprefix("shipped · ")


def test_a_change_of_source_changes_the_step_by_step_figure():
    """The weights drawn are those of the picked value: the sentence's words, then random tokens, then a shipped
    decoder's own head on its input (the English model, the default source, has its own tests)."""
    at = open_page(STEP, attention_step_by_step_mode="sentence")
    at.text_input(key="attention_step_by_step_text").input("one two three").run()
    sentence = _weights(at)
    assert sentence["x"] == token_labels(["one", "two", "three"])

    at.radio(key="attention_step_by_step_mode").set_value("random").run()
    at.slider(key="attention_step_by_step_length").set_value(4).run()
    random = _weights(at)
    assert random["x"] == token_labels(["t0", "t1", "t2", "t3"]) and random != sentence

    at.radio(key="attention_step_by_step_mode").set_value("model").run()
    assert not at.exception, error_messages(at)
    name = at.selectbox(key="attention_step_by_step_trained").value
    model, card = load_model(MODELS_DIR / name)
    task = get_task(card["task"])
    at.text_input(key=f"attention_step_by_step_trained_text_{task.name}").input(task.default_input[:-1]).run()
    trained = _weights(at)
    expected = head_inputs(model, task, task.default_input[:-1], 0, 0).weights
    assert trained != random
    assert values(trained["z"]).shape == tuple(expected.shape)
    assert abs(values(trained["z"]) - expected.double().numpy()).max() < 1e-5


def test_multi_head_draws_the_picked_words():
    at = open_page(MHA)
    at.text_input(key="multi_head_text").input("Attention is all you need").run()
    grid = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Attention weights of all"))
    assert grid["data"][0]["x"] == token_labels(["attention", "is", "all", "you", "need"])
    before = json.dumps(grid["data"])
    at.radio(key="multi_head_mode").set_value("random").run()
    grid = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Attention weights of all"))
    assert grid["data"][0]["x"] == token_labels([f"t{i}" for i in range(8)]) and json.dumps(grid["data"]) != before


def test_no_page_draws_a_text_box_itself():
    """Text reaches a page only through ui.inputs (the picker, or a task's model box)."""
    drawn = {str(p.relative_to(ROOT)) for p in (ROOT / "pages").rglob("*.py")
             if re.search(r"\btext_(input|area)\(", p.read_text(encoding="utf-8"))}
    assert not drawn, drawn
