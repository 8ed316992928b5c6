"""Widget fuzz over the registry: every page survives its widgets' extremes, random combinations and hostile text.

Bounded (few hypothesis examples per page) so CI stays fast; pages added later are covered automatically.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.registry import PAGES
from tests.apptest_utils import error_messages, open_page

HOSTILE_TEXT = [
    "",
    "   \n\t ",
    "x" * 10_000,
    "attention 🤖🔥 is all you need 🎉",
    "الانتباه هو كل ما تحتاجه",  # right-to-left script
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "ÿ\u0000\u200b§¶",
]
KINDS = ("slider", "select_slider", "selectbox", "number_input", "radio", "checkbox", "toggle")


def _page_widgets(at, slug):
    out = []
    for kind in KINDS:
        for w in at.get(kind):
            if w.key and ("settings_" in str(w.key) or "::" in str(w.key)):
                continue
            out.append((kind, w.key, w))
    return out


def _extreme(kind, w, high: bool):
    if kind == "slider":
        if isinstance(w.value, tuple):
            return (w.min, w.max) if high else (w.min, w.min)
        return w.max if high else w.min
    if kind == "number_input":
        if w.max is not None and w.min is not None:
            return w.max if high else w.min
        return None
    if kind in ("selectbox", "radio", "select_slider"):
        options = list(w.options)
        return options[-1 if high else 0] if options else None
    if kind in ("checkbox", "toggle"):
        return high
    return None


def _set(at, kind, key, value):
    if value is None or key is None:
        return
    widget = next((w for w in at.get(kind) if w.key == key), None)
    if widget is None or widget.disabled:
        return  # the widget vanished after an earlier change (e.g. a mode switch); nothing to set
    if kind == "selectbox":
        widget.select(value)
    else:
        widget.set_value(value)


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
@pytest.mark.parametrize("high", [False, True], ids=["all-min", "all-max"])
def test_every_widget_at_its_extremes(entry, high):
    at = open_page(entry.module)
    for kind, key, w in _page_widgets(at, entry.slug):
        _set(at, kind, key, _extreme(kind, w, high))
    at.run()
    assert not at.exception, error_messages(at)


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_random_widget_combinations(entry):
    at = open_page(entry.module)
    widgets = [(k, key, w) for k, key, w in _page_widgets(at, entry.slug) if key]

    @settings(max_examples=4, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.data())
    def run(data):
        for kind, key, w in widgets:
            if data.draw(st.booleans()):
                _set(at, kind, key, _extreme(kind, w, data.draw(st.booleans())))
        at.run()
        assert not at.exception, error_messages(at)

    run()


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_hostile_text_gets_a_message_not_a_traceback(entry):
    at = open_page(entry.module)
    boxes = [(kind, w.key) for kind in ("text_input", "text_area") for w in at.get(kind) if w.key]
    if not boxes:
        pytest.skip(f"{entry.slug} has no text box")
    for text in HOSTILE_TEXT:
        for kind, key in boxes:
            box = next((w for w in at.get(kind) if w.key == key), None)
            if box is not None:
                box.input(text)
        at.run()
        assert not at.exception, (text[:40], error_messages(at))
