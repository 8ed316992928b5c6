"""Widget fuzz over the registry: every page survives its widgets' extremes, random combinations and hostile text.

Bounded (few hypothesis examples per page) so CI stays fast; pages added later are covered automatically.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.quiz import parse_number
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


def _messages(at) -> Counter:
    """The messages (st.warning / st.error / st.info) on the page, as a multiset of their texts."""
    return Counter(m.value for kind in ("warning", "error", "info") for m in at.get(kind))


def _quiz_message(text: str) -> str | None:
    """What a quiz says to `text` typed as a numeric answer: parse_number's hint, or None for a blank answer."""
    try:
        parse_number(text)
    except ValueError as err:
        return str(err)
    return None


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_hostile_text_gets_a_message_not_a_traceback(entry):
    """Each hostile text goes into every text box of the page and, submitted, into its first numeric quiz answer.

    Never a traceback; empty or blank text in a page's own text box gets a message (a warning, error or info that was
    not on the page before); the quiz answers a blank submission with a message and any other one with
    parse_number's hint (none of HOSTILE_TEXT is a number). One run per text: page boxes and quiz in the same run.
    """
    at = open_page(entry.module)
    texts = [w for kind in ("text_input", "text_area") for w in at.get(kind) if w.key]
    page_boxes = [(w.type, w.key) for w in texts if not w.form_id]
    quiz = next(((w.type, w.key, w.form_id) for w in texts if w.form_id), None)
    if not page_boxes and quiz is None:
        pytest.skip(f"{entry.slug} has no text box")
    baseline = _messages(at)
    for text in HOSTILE_TEXT:
        for kind, key in page_boxes:
            box = next((w for w in at.get(kind) if w.key == key), None)
            if box is not None:
                box.input(text)
        if quiz is not None:
            kind, key, form_id = quiz
            next(w for w in at.get(kind) if w.key == key).input(text)
            next(b for b in at.button if b.form_id == form_id and b.proto.is_form_submitter).click()
        at.run()
        where = (entry.slug, text[:40])
        assert not at.exception, (where, error_messages(at))
        new = list((_messages(at) - baseline).elements())
        blank = not text.strip()
        assert len(new) >= (blank and bool(page_boxes)) + (quiz is not None), (where, "no message", new)
        if quiz is not None and not blank:
            assert _quiz_message(text) in new, (where, "the quiz does not say what to type", new)
