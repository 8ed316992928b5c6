"""Registry-wide headless tests: every registered page renders, shows charts with data, and reacts to a widget."""

from __future__ import annotations

import json

import pytest

from course.registry import PAGES
from tests.apptest_utils import chart_specs, error_messages, open_page, trace_has_data

PAGE_IDS = [p.slug for p in PAGES]


def test_home_renders_course_map():
    at = open_page("pages/start/home.py")
    assert not at.exception, error_messages(at)
    assert at.title[0].value.startswith("🔦 Attention Lab")
    assert PAGES, "the registry lists no page"
    # One link per registered page plus "start here"; only real pages are listed.
    targets = [link.proto.page for link in at.page_link]
    for entry in PAGES:
        assert any(entry.slug in t or entry.module in t for t in targets), (entry.slug, targets)


@pytest.mark.parametrize("entry", PAGES, ids=PAGE_IDS)
def test_page_renders_with_charts(entry):
    at = open_page(entry.module)
    assert not at.exception, error_messages(at)
    specs = chart_specs(at)
    assert specs, f"{entry.slug} shows no Plotly chart at default settings"
    for spec in specs:
        assert spec["data"], f"{entry.slug}: a chart has no traces"
        assert any(trace_has_data(t) for t in spec["data"]), f"{entry.slug}: a chart's traces are empty"


def _widget_candidates(at):
    for kind in ("slider", "select_slider", "selectbox", "number_input", "radio", "toggle", "checkbox"):
        for widget in at.get(kind):
            yield kind, widget


def _changed_value(kind, widget):
    if kind in ("toggle", "checkbox"):
        return not widget.value
    if kind in ("selectbox", "radio", "select_slider"):
        options = list(widget.options)
        current = widget.options[widget.index] if kind != "select_slider" else widget.value  # as shown
        for opt in options:
            if opt != current:
                return opt
        return None
    if kind == "slider":
        lo, hi = widget.min, widget.max
        if isinstance(widget.value, (tuple, list)):
            return None
        return hi if widget.value != hi else lo
    if kind == "number_input":
        return widget.value + (widget.step or 1) if widget.max is None or widget.value < widget.max else widget.min
    return None


@pytest.mark.parametrize("entry", PAGES, ids=PAGE_IDS)
def test_a_widget_change_changes_a_figure(entry):
    """Some main-area widget of the page must change some chart's data (sidebar settings excluded)."""
    at = open_page(entry.module)
    before = json.dumps([s["data"] for s in chart_specs(at)], sort_keys=True)
    tried = []
    for kind, widget in list(_widget_candidates(at))[:8]:
        if widget.key and ("settings_" in str(widget.key) or "::" in str(widget.key)):
            continue
        new = None if getattr(widget, "disabled", False) else _changed_value(kind, widget)
        if new is None:
            continue
        tried.append(f"{kind}:{widget.label}")
        if kind == "selectbox":
            widget.select(new)
        else:
            widget.set_value(new)
        at.run()
        assert not at.exception, error_messages(at)
        after = json.dumps([s["data"] for s in chart_specs(at)], sort_keys=True)
        if after != before:
            return
    pytest.fail(f"{entry.slug}: no widget changed any figure (tried {tried})")
