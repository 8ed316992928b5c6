"""Sessions are isolated: two sessions with different settings each keep their own results, and a model trained
in one session is never seen by another nor changes the shared shipped models."""

from __future__ import annotations

import hashlib
import json

import pytest
import streamlit as st

import ui.models
from core.generation import decode_task, predict
from core.measure.device import resolve_device
from core.train.checkpoints import load_model
from core.train.training import Trainer
from course.registry import PAGES, page_by_slug
from tests.apptest_utils import chart_specs, error_messages, open_page
from ui.models import TRAINED_KEY, YOURS, load_shipped, shipped_cards

pytestmark = pytest.mark.skipif(not PAGES, reason="no page registered yet")


def _data(at) -> str:
    return json.dumps([s["data"] for s in chart_specs(at)], sort_keys=True)


def test_two_sessions_with_different_seeds_keep_their_own_figures():
    entry = PAGES[0]
    a = open_page(entry.module, settings_seed=0)
    b = open_page(entry.module, settings_seed=1)
    assert not a.exception and not b.exception, error_messages(a) + error_messages(b)
    a_before = _data(a)
    assert a_before != _data(b), "different seeds should draw different figures"
    b.session_state["settings_seed"] = 2
    b.run()
    a.run()  # session A reruns after B changed its settings: A's view is unchanged
    assert _data(a) == a_before
    assert a.session_state["settings_seed"] == 0


def _module(slug: str) -> str:
    return page_by_slug(slug).module


def _widget(at, kind: str, label: str):
    return next(w for w in at.get(kind) if w.label == label)


def _digest(model) -> str:
    """sha256 of a model's state_dict (every parameter and buffer, in name order)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _view(at, chart_filter=lambda spec: True) -> dict:
    """What a learner sees of a model page: the model picker's options, the text output and the chart data."""
    return {
        "options": list(_widget(at, "selectbox", "Model").options),
        "text": [t.value for t in at.text],
        "charts": json.dumps([s["data"] for s in chart_specs(at) if chart_filter(s)], sort_keys=True),
    }


def _not_timed(spec: dict) -> bool:
    """Charts of the generation page except the KV-cache one, whose right panel is wall-clock time per token."""
    return "KV cache size" not in json.dumps(spec["layout"])


def _explorer_and_generation(at) -> tuple[dict, dict]:
    at.session_state["model_explorer_mode"] = at.session_state["generation_mode"] = "model"  # the task models
    at.switch_page(_module("model_explorer")).run()
    assert not at.exception, error_messages(at)
    explorer = _view(at)
    at.switch_page(_module("generation")).run()
    at.radio(key="generation_mode").set_value("model").run()  # task models: the English GPT is the default source
    assert not at.exception, error_messages(at)
    return explorer, _view(at, _not_timed)


def test_training_in_one_session_never_changes_what_another_session_sees(monkeypatch):
    """C (never trains) looks at the explorer and generation pages; A trains a tiny model; a fresh session B then
    sees exactly C's models, answers and attention, recomputed from the shared shipped models, whose weights A's
    training left untouched."""
    device = str(resolve_device("auto"))  # what a page's default settings run on
    shipped = {name: load_shipped(name, device)[0] for name in shipped_cards()}  # the process-wide cached models
    before = {name: _digest(model) for name, model in shipped.items()}
    loads, predictions, decodings = [], [], []
    monkeypatch.setattr(ui.models, "load_model", lambda *a, **k: loads.append(a) or load_model(*a, **k))
    monkeypatch.setattr(ui.models, "predict", lambda *a, **k: predictions.append(a) or predict(*a, **k))
    monkeypatch.setattr(ui.models, "decode_task", lambda *a, **k: decodings.append(a) or decode_task(*a, **k))

    c = open_page(_module("model_explorer"), model_explorer_mode="model")
    c_explorer, c_generation = _explorer_and_generation(c)
    assert c_explorer["charts"] != "[]" and c_generation["charts"] != "[]"

    a = open_page(_module("train_it_yourself"))
    _widget(a, "slider", "Layers").set_value(1)
    _widget(a, "select_slider", "d_model").set_value(16)
    _widget(a, "slider", "Steps").set_value(50)
    _widget(a, "slider", "Snapshot every K steps").set_value(50)
    a.run()
    a.button(key="train_it_yourself_train").click().run()
    assert not a.exception, error_messages(a)
    run = a.session_state[TRAINED_KEY]
    assert isinstance(run, Trainer) and run.step == 50
    assert all(run.model is not model for model in shipped.values())
    a_explorer, a_generation = _explorer_and_generation(a)
    yours = [o for o in a_explorer["options"] if o.startswith(YOURS)]
    assert yours and yours[0] in a_generation["options"], "A must see its own model (else B's check proves nothing)"

    st.cache_data.clear()  # B must compute its answers from the shared models, not read what C cached
    predictions.clear(), decodings.clear()
    b = open_page(_module("model_explorer"), model_explorer_mode="model")
    b_explorer, b_generation = _explorer_and_generation(b)
    assert predictions and decodings, "B's pages were served from a cache instead of running the shipped models"
    assert not any(o.startswith(YOURS) for o in b_explorer["options"] + b_generation["options"])
    assert b_explorer == c_explorer
    assert b_generation == c_generation

    c.session_state["model_explorer_mode"] = "model"
    c.switch_page(_module("model_explorer")).run()  # C, still open, reruns after A trained: unchanged too
    assert _view(c) == c_explorer
    assert not loads, f"a page loaded its own copy of a shipped model instead of the shared one: {loads}"
    assert all(load_shipped(name, device)[0] is model for name, model in shipped.items())
    assert {name: _digest(model) for name, model in shipped.items()} == before, "training changed a shipped model"
