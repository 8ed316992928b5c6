"""Headless tests of the training & generation pages: default render, training in the session, the explorer and
the generation page react to their widgets, and unknown characters get a clear message instead of a traceback."""

from __future__ import annotations

import json

from core.train.tasks import get_task
from core.train.training import ModelSpec, TrainConfig, Trainer, build_model, model_config
from tests.apptest_utils import chart_specs, error_messages, open_page, trace_has_data
from ui.models import TRAINED_KEY

TRAIN, EXPLORER, GENERATION = (f"pages/training/{name}.py" for name in ("train_it_yourself", "model_explorer", "generation"))


def data_of(at) -> str:
    return json.dumps([s["data"] for s in chart_specs(at)], sort_keys=True)


def titles(at) -> list[str]:
    return [s["layout"].get("title", {}).get("text", "") for s in chart_specs(at)]


def assert_charts_with_data(at, at_least: int = 1) -> None:
    assert not at.exception, error_messages(at)
    specs = chart_specs(at)
    assert len(specs) >= at_least, titles(at)
    for spec in specs:
        assert any(trace_has_data(t) for t in spec["data"]), spec["layout"].get("title")


def warning_text(at) -> str:
    """The warnings as the learner reads them (markdown escapes such as '\\#' removed)."""
    return " ".join(w.value for w in at.warning).replace("\\", "")


def widget(at, kind: str, label: str):
    return next(w for w in at.get(kind) if w.label == label)


def test_train_page_shows_shipped_curve_and_untrained_attention():
    at = open_page(TRAIN)
    assert_charts_with_data(at, 2)
    assert any("Shipped reverse model" in t for t in titles(at)), titles(at)
    assert any("Untrained model" in t for t in titles(at)), titles(at)
    before = data_of(at)
    widget(at, "selectbox", "Task").select("dates").run()
    assert_charts_with_data(at, 2)
    assert data_of(at) != before
    assert any("cross-attention" in t for t in titles(at)), titles(at)


def test_training_in_the_session_then_explorer_and_generation_use_it():
    at = open_page(TRAIN)
    widget(at, "slider", "Steps").set_value(50)
    widget(at, "slider", "Snapshot every K steps").set_value(10)
    widget(at, "select_slider", "d_model").set_value(32)
    at.run()
    at.button(key="train_it_yourself_train").click().run()
    assert_charts_with_data(at, 2)
    run = at.session_state[TRAINED_KEY]
    assert isinstance(run, Trainer) and run.done and run.step == 50
    assert [s.step for s in run.history.snapshots] == [0, 10, 20, 30, 40, 50]
    assert any("Your reverse run" in t for t in titles(at)), titles(at)
    before = data_of(at)
    widget(at, "select_slider", "Attention at step").set_value(0).run()
    assert data_of(at) != before, "picking another snapshot must change the attention figure"

    at.session_state["model_explorer_mode"] = "model"  # the task models (the English model is the default)
    at.switch_page(EXPLORER).run()
    assert_charts_with_data(at)
    options = widget(at, "selectbox", "Model").options
    assert options[0].startswith("yours · reverse"), options
    at.switch_page(GENERATION).run()
    assert_charts_with_data(at, 2)
    at.radio(key="generation_mode").set_value("model").run()  # the English GPT is the default source
    assert_charts_with_data(at, 2)
    assert widget(at, "selectbox", "Model").options[0].startswith("yours · reverse")


def test_a_trained_model_in_session_state_never_changes_the_shipped_one():
    task = get_task("copy")
    trainer = Trainer(build_model(model_config(task, ModelSpec(1, 2, 16)), seed=0), task, TrainConfig(steps=3))
    trainer.run()
    at = open_page(EXPLORER, **{TRAINED_KEY: trainer}, model_explorer_mode="model")
    assert_charts_with_data(at)
    from ui.models import load_shipped

    shipped, _ = load_shipped("copy")
    assert shipped is not trainer.model and not any(p.requires_grad for p in shipped.parameters())


def test_explorer_defaults_heads_and_unknown_characters():
    at = open_page(EXPLORER, model_explorer_mode="model")
    assert_charts_with_data(at, 2)
    before = data_of(at)
    widget(at, "selectbox", "Head").select(2).run()
    assert_charts_with_data(at, 2)
    assert data_of(at) != before
    text_box = at.text_input[0]
    text_box.set_value("abZ!").run()
    assert not at.exception, error_messages(at)
    warnings = warning_text(at)
    assert "'Z'" in warnings and "'!'" in warnings and "unknown character" in warnings, warnings


def test_explorer_shows_the_dates_alignment():
    at = open_page(EXPLORER, model_explorer_mode="model")
    dates = next(o for o in widget(at, "selectbox", "Model").options if o.endswith("dates"))
    widget(at, "selectbox", "Model").select(dates).run()
    assert_charts_with_data(at, 2)
    assert any("cross-attention" in t for t in titles(at)), titles(at)
    assert "2026-11-22" in " ".join(t.value for t in at.text)


def test_generation_task_model_sampling_and_unknown_characters():
    at = open_page(GENERATION)
    at.radio(key="generation_mode").set_value("model").run()
    assert_charts_with_data(at, 2)
    assert "identical tokens" in " ".join(c.value for c in at.caption)
    before = data_of(at)
    widget(at, "slider", "Temperature").set_value(2.5).run()
    assert_charts_with_data(at, 2)
    assert data_of(at) != before
    at.text_input[0].set_value("ab#").run()
    assert not at.exception, error_messages(at)
    assert "'#'" in warning_text(at) and "unknown character" in warning_text(at)
