"""ui/lesson.py headless: every page's lessons render with live numbers and code; quizzes grade and record progress
(in the session and in the progress database); the progress file and the search render and never show a traceback.
The course map itself: tests/pages/test_course_map.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from course.lesson_format import lessons_for_page
from course.registry import _ENTRIES
from tests.apptest_utils import TIMEOUT_S, error_messages, lesson_line


def _lesson_page():
    import streamlit as st

    from course.registry import _ENTRIES
    from ui.lesson import render_lesson

    render_lesson(next(e for e in _ENTRIES if e.slug == st.session_state["slug"]))


def _home_pieces():
    from ui.lesson_search import lesson_search_box
    from ui.progress import progress_io

    progress_io()
    lesson_search_box()


def _saved(at: AppTest) -> dict:
    """What the progress database holds for this AppTest session's learner."""
    from course.progress_store import ProgressStore

    return ProgressStore().load(at.session_state["_learner"].id)["lessons"]


def open_lessons(slug: str) -> AppTest:
    at = AppTest.from_function(_lesson_page, default_timeout=TIMEOUT_S)
    at.session_state["slug"] = slug
    return at.run()


def _markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("entry", _ENTRIES, ids=[e.slug for e in _ENTRIES])
def test_every_page_lesson_renders_with_live_numbers_and_code(entry):
    at = open_lessons(entry.slug)
    assert not at.exception, error_messages(at)
    lessons = lessons_for_page(entry.slug, entry.lesson)
    shown = [x.title for x in lessons if len(lessons) > 1 or x.title != entry.title]  # no repeat of the page title
    assert [s.value for s in at.subheader] == shown
    text = _markdown_text(at)
    assert "{{" not in text and "n/a" not in text, "a placeholder was not resolved"
    assert len(at.code) == sum(len(x.code) for x in lessons), "a core name in `code:` could not be shown"
    assert len(at.get("form")) == sum(len(x.quiz) for x in lessons)


def _question_form(at: AppTest, lesson_id: str, qid: str):
    return next(f for f in at.get("form") if f.proto.form_id == f"quiz::{lesson_id}::{qid}::form")


def test_multiple_choice_right_and_wrong_answers_are_graded_and_recorded():
    at = open_lessons("multi_head")
    at.radio(key="quiz::06_multi_head::heads_vs_params::choice").set_value(0)
    at.button(key="FormSubmitter:quiz::06_multi_head::heads_vs_params::form-Check").click().run()
    assert not at.exception, error_messages(at)
    assert at.error and "Not quite" in at.error[0].value
    assert at.session_state["progress"]["lessons"]["06_multi_head"]["quiz"]["heads_vs_params"] is False
    at.radio(key="quiz::06_multi_head::heads_vs_params::choice").set_value(2)
    at.button(key="FormSubmitter:quiz::06_multi_head::heads_vs_params::form-Check").click().run()
    assert at.success and "Right" in at.success[0].value
    assert at.session_state["progress"]["lessons"]["06_multi_head"]["quiz"]["heads_vs_params"] is True
    assert _saved(at)["06_multi_head"]["quiz"] == {"heads_vs_params": True}
    assert lesson_line("06_multi_head", False, 1, 1) in _markdown_text(at)  # the lesson's own progress line, this run


def test_live_numeric_answer_and_bad_typing():
    at = open_lessons("multi_head")
    box = at.text_input(key="quiz::06_multi_head::params_512_8::number")
    box.set_value("a million")
    at.button(key="FormSubmitter:quiz::06_multi_head::params_512_8::form-Check").click().run()
    assert not at.exception and at.warning and "plain number" in at.warning[0].value
    at.text_input(key="quiz::06_multi_head::params_512_8::number").set_value("1,050,624")
    at.button(key="FormSubmitter:quiz::06_multi_head::params_512_8::form-Check").click().run()
    assert at.success, error_messages(at)
    assert at.session_state["progress"]["lessons"]["06_multi_head"]["quiz"]["params_512_8"] is True


def test_read_checkbox_updates_progress():
    at = open_lessons("kv_cache")
    at.checkbox(key="read::14_kv_cache_gqa").check().run()
    assert at.session_state["progress"]["lessons"]["14_kv_cache_gqa"]["read"] is True
    assert at.checkbox(key="read::14_kv_cache_gqa").value is True
    assert _saved(at)["14_kv_cache_gqa"]["read"] is True and "✅ read" in _markdown_text(at)


def test_page_with_two_lessons_uses_tabs():
    at = open_lessons("efficient_variants")
    assert len(at.tabs) == 2 and not at.exception


def test_home_pieces_render_search_and_never_echo_html():
    at = AppTest.from_function(_home_pieces, default_timeout=TIMEOUT_S).run()
    assert not at.exception, error_messages(at)
    at.text_input(key="lesson_search").set_value("rotary").run()
    assert not at.exception, error_messages(at)
    assert "Positional encodings" in _markdown_text(at) + " ".join(p.proto.label for p in at.get("page_link"))
    at.text_input(key="lesson_search").set_value("<img src=x onerror=alert(1)>").run()
    assert not at.exception and at.info
    assert all("<img" not in m.value or not m.proto.allow_html for m in at.markdown)
