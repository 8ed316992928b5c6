"""Widget fuzz over the registry: every page survives its widgets' extremes, random combinations and hostile text.

Bounded (few hypothesis examples per page) so CI stays fast; pages added later are covered automatically.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.train.tasks import TASKS, get_task
from course.quiz import parse_number
from course.registry import PAGES
from tests.apptest_utils import chart_specs, error_messages, open_page, trace_has_data

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
        for kind, key, _ in widgets:
            if data.draw(st.booleans()):
                high = data.draw(st.booleans())  # drawn either way: the same draws for every example
                live = next((w for w in at.get(kind) if w.key == key), None)  # a mode switch may have removed it
                if live is not None and not live.disabled:
                    _set(at, kind, key, _extreme(kind, live, high))
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


TEXT_KINDS = ("text_input", "text_area")
CHOICE_KINDS = ("selectbox", "radio", "toggle", "checkbox")  # choices that may reveal another text box
# Characters no model reads: outside every task's vocabulary and allowed input characters.
KNOWN_TO_A_MODEL = frozenset("".join("".join(t.vocab.symbols) + t.input_chars for t in map(get_task, TASKS)))
LONG = 10_000
LENGTH_WORDS = re.compile(r"at most|too long|truncat|shorten|characters|words", re.IGNORECASE)


def _feeds_a_model(box) -> bool:
    """True for a text box whose text a model's character vocabulary reads: its label says which characters it
    takes ("Input (characters from '...')"), as every model page's box tells the learner."""
    return "characters from" in box.label


def _page_boxes(at) -> list[tuple[str, str]]:
    """(kind, key) of the page's own text boxes now on the page (quiz answers, inside forms, left out)."""
    return [(w.type, w.key) for kind in TEXT_KINDS for w in at.get(kind) if w.key and not w.form_id]


def _choices(kind, w) -> list:
    return [True, False] if kind in ("toggle", "checkbox") else list(w.options)


def _current(kind, w):
    return w.value if kind in ("toggle", "checkbox") else (w.options[w.index] if w.index is not None else None)


@functools.cache
def _text_box_views(module: str) -> tuple[tuple[tuple | None, tuple[tuple[str, str], ...]], ...]:
    """Every text box of the page, found through AppTest: those on the default page, then those that appear only
    after picking another option of one selectbox / radio / toggle / checkbox (the explorer's box of each model,
    the families page's box of each family, ...), and of a choice that such a pick reveals (the explorer's task
    models appear once its source radio says so). ((choice, boxes), ...): choice = ((kind, key, option), ...), the
    picks in order, or None."""
    at = open_page(module)
    seen = set(_page_boxes(at))
    views = [(None, tuple(_page_boxes(at)))] if seen else []

    def explore(steps: tuple, known: set[str], depth: int) -> None:
        widgets = [(k, key, w) for k, key, w in _page_widgets(at, "") if k in CHOICE_KINDS and key and key not in known]
        for kind, key, w in widgets:
            original = _current(kind, w)
            for option in _choices(kind, w):
                if option == original:
                    continue
                _set(at, kind, key, option)
                at.run()
                assert not at.exception, (module, key, option, error_messages(at))
                picked = (*steps, (kind, key, option))
                new = tuple(b for b in _page_boxes(at) if b not in seen)
                if new:
                    views.append((picked, new))
                    seen.update(new)
                if depth < 2:
                    explore(picked, known | {k for _, k, _ in widgets}, depth + 1)
                    for k, key2, opt in steps:  # back to this level's state
                        _set(at, k, key2, opt)
                    _set(at, kind, key, option)
                    at.run()
            _set(at, kind, key, original)
            at.run()

    explore((), set(), 1)
    return tuple(views)


def _shown(text: str) -> str:
    """Markdown source as the learner reads it: escapes such as '\\<' or '\\\\x00' lose their backslashes."""
    return text.replace("\\", "")


def _names_one_of(message: str, chars: set[str]) -> bool:
    return any(_shown(repr(c)) in _shown(message) for c in chars)


def _charts_with_data(at) -> bool:
    specs = chart_specs(at)
    return bool(specs) and all(any(trace_has_data(t) for t in s["data"]) for s in specs)


def test_text_box_discovery_reaches_boxes_behind_choices():
    """The explorer keeps one text box per model (its key holds the task): discovery must find one per option."""
    explorer = next(p for p in PAGES if p.slug == "model_explorer")
    at = open_page(explorer.module, model_explorer_mode="model")  # the task models (English is the default source)
    models = next(w for w in at.selectbox if w.label == "Model").options
    boxes = [b for _, found in _text_box_views(explorer.module) for b in found]
    english = [b for b in boxes if b[1] == "model_explorer_english_text"]  # one box for every English model
    assert len(english) == 1, boxes
    assert len(boxes) == len(set(boxes)) == len(models) + 1 > 2, (boxes, models)


def test_model_vocabulary_boxes_are_recognised():
    """The model pages' boxes (one per model, found through AppTest) say which characters they take; the word
    pages' boxes do not."""
    found = set()
    for entry in PAGES:
        for choice, boxes in _text_box_views(entry.module):
            at = _open_view(entry.module, choice)
            if any(_feeds_a_model(_box(at, kind, key)) for kind, key in boxes):
                found.add(entry.slug)
    assert {"model_explorer", "generation", "architecture_families"} <= found, found
    assert not found & {"multi_head", "positional_encodings", "masks", "scoring_functions"}, found


def _open_view(module: str, choice: tuple | None):
    at = open_page(module)
    for step in choice or ():
        _set(at, *step)
        at.run()
        assert not at.exception, (module, step, error_messages(at))
    return at


def _box(at, kind: str, key: str):
    return next(w for w in at.get(kind) if w.key == key)


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_hostile_text_gets_a_message_not_a_traceback(entry):
    """Each hostile text goes into every text box of the page (also those shown only after another choice) and,
    submitted, into its first numeric quiz answer. One run per text: page boxes and quiz in the same run.

    Never a traceback, and the page's boxes hold the text (as much of it as max_chars keeps: the server truncates as
    the browser does). Empty or blank text in a page's own text box gets a message (a warning, error or info that
    was not on the page before). In a box that feeds a model's vocabulary (its label says which characters it takes),
    text holding characters no model reads gets a message naming at least one of them. 10,000 characters get a message or a page of charts with
    data. The quiz answers a blank submission with a message and any other one with parse_number's hint (none of
    HOSTILE_TEXT is a number).
    """
    views = _text_box_views(entry.module)
    first = open_page(entry.module)
    quiz = next(((w.type, w.key, w.form_id) for kind in TEXT_KINDS for w in first.get(kind) if w.form_id), None)
    if not views and quiz is None:
        pytest.skip(f"{entry.slug} has no text box")
    for choice, page_boxes in views or [(None, ())]:
        at = first if choice is None else _open_view(entry.module, choice)
        view_quiz = quiz if choice is None else None  # the quiz once, with the default view
        baseline = _messages(at)
        for text in HOSTILE_TEXT:
            for kind, key in page_boxes:
                _box(at, kind, key).set_value(text)
            if view_quiz is not None:
                kind, key, form_id = view_quiz
                _box(at, kind, key).set_value(text)
                next(b for b in at.button if b.form_id == form_id and b.proto.is_form_submitter).click()
            at.run()
            where = (entry.slug, choice, text[:40])
            assert not at.exception, (where, error_messages(at))
            for kind, key in page_boxes:
                box = _box(at, kind, key)
                assert box.value == text[: box.max_chars or None], (where, key, "the text is not in the box")
            new = list((_messages(at) - baseline).elements())
            blank = not text.strip()
            assert len(new) >= (blank and bool(page_boxes)) + (view_quiz is not None), (where, "no message", new)
            if view_quiz is not None and not blank:
                assert _quiz_message(text) in new, (where, "the quiz does not say what to type", new)
            unknown = set(text) - KNOWN_TO_A_MODEL
            if unknown and any(_feeds_a_model(_box(at, kind, key)) for kind, key in page_boxes):
                assert any(_names_one_of(m, unknown) for m in new), (where, "no message names any of", unknown, new)
            if len(text) >= LONG:
                assert new or _charts_with_data(at), (where, "10,000 characters: no message and no charts")


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_a_long_valid_text_is_refused_with_its_limit_or_shown(entry):
    """Each text box gets its own default text repeated to 10,000 characters (text the page otherwise accepts, so
    only the length is at stake): the page names its length limit in a message, or draws charts with data."""
    views = _text_box_views(entry.module)
    if not views:
        pytest.skip(f"{entry.slug} has no text box of its own")
    for choice, page_boxes in views:
        for kind, key in page_boxes:
            at = _open_view(entry.module, choice)
            baseline = _messages(at)
            box = _box(at, kind, key)
            text = (box.value * LONG)[:LONG]
            box.set_value(text)
            at.run()
            where = (entry.slug, choice, key)
            assert not at.exception, (where, error_messages(at))
            box = _box(at, kind, key)
            assert box.value == text[: box.max_chars or None], (where, "the text is not in the box")
            new = list((_messages(at) - baseline).elements())
            limits = [m for m in new if LENGTH_WORDS.search(_shown(m)) and re.search(r"\d", m)]
            assert limits or _charts_with_data(at), (where, "no length limit named and no charts", new)
