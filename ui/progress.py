"""The learner's progress on screen and in the database: each lesson's own progress line, the "I have read this
lesson" box, and the progress file (download / restore).

This session's copy of the progress is ``st.session_state["progress"]`` (schema and counts: ``course.quiz``). It is
read from the database (``course.progress_store``, keyed by the learner of :mod:`ui.learner`) at the start of every
run and each change is written there at once. When the database fails, the session says why once and goes on with
the copy in memory.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from course.lesson_format import Lesson, load_lessons
from course.markdown_text import escape_markdown
from course.progress_store import StoreError
from course.quiz import (
    ProgressError,
    empty_progress,
    lesson_progress,
    lesson_record,
    progress_from_json,
    progress_to_json,
    record_answer,
    set_read,
)
from ui.learner import current_learner, keep_learner_in_browser, progress_store, show_learner_notice

PROGRESS_KEY = "progress"
RESTORED_MESSAGE_KEY = "progress_restored_message"
MAX_IGNORED_SHOWN = 5


def start_progress_run() -> None:
    """At the top of every page run: know the learner, keep its cookie, and read its latest progress (another tab
    of the same learner may have changed it)."""
    learner = current_learner()
    keep_learner_in_browser()
    show_learner_notice()
    if learner.saved:
        try:
            st.session_state[PROGRESS_KEY] = progress_store().load(learner.id)
        except StoreError as err:
            _lose_store(err)


def learner_progress() -> dict[str, Any]:
    """This session's progress record (read from the database on first use)."""
    if PROGRESS_KEY not in st.session_state:
        learner = current_learner()
        progress = empty_progress()
        if learner.saved:
            try:
                progress = progress_store().load(learner.id)
            except StoreError as err:
                _lose_store(err)
        st.session_state[PROGRESS_KEY] = progress
    return st.session_state[PROGRESS_KEY]


def _lose_store(err: StoreError) -> None:
    """From now on this session keeps its progress in memory only (the database failed: `err` says how)."""
    current_learner().problem = str(err)


def show_store_problem() -> None:
    """A clear note when this session's progress cannot be saved (nothing when it can)."""
    learner = current_learner()
    if not learner.saved:
        st.warning(
            f"Your progress cannot be saved right now: {escape_markdown(learner.problem or '')} Until the next visit "
            "it is kept in this browser tab only; download it (course map, “Your progress”) to keep it.",
            icon="💾",
        )


def save_read(lesson_id: str, read: bool) -> None:
    """Mark a lesson read or unread, in this session and in the database."""
    set_read(learner_progress(), lesson_id, read)
    _write(lambda store, learner_id: store.set_read(learner_id, lesson_id, read))


def save_answer(lesson_id: str, question_id: str, correct: bool) -> None:
    """Record a checked answer, in this session and in the database."""
    record_answer(learner_progress(), lesson_id, question_id, correct)
    _write(lambda store, learner_id: store.record_answer(learner_id, lesson_id, question_id, correct))


def _write(change) -> None:
    learner = current_learner()
    if not learner.saved:
        return
    try:
        change(progress_store(), learner.id)
    except StoreError as err:
        _lose_store(err)


def render_read_toggle(lesson: Lesson) -> None:
    """The "I have read this lesson" checkbox, kept in step with the progress record."""
    key = f"read::{lesson.id}"
    st.session_state[key] = lesson_record(learner_progress(), lesson.id)["read"]  # progress is the source of truth

    def on_change() -> None:
        save_read(lesson.id, st.session_state[key])

    st.checkbox("I have read this lesson", key=key, on_change=on_change)


def lesson_progress_text(lesson: Lesson) -> str:
    """One line of the learner's progress in `lesson`: read or not, questions answered and right (Markdown)."""
    row = lesson_progress(learner_progress(), [lesson])[0]
    read = "✅ read" if row.read else "▫️ not read yet"
    if not row.questions:
        return read
    return f"{read} · {row.answered}/{row.questions} questions answered, {row.correct} right"


def render_lesson_progress(slot: DeltaGenerator, lesson: Lesson) -> None:
    """Fill `slot` (drawn above the lesson, filled after its quiz ran) with the lesson's own progress line, and
    the note when it cannot be saved."""
    with slot:
        st.caption(f"**Your progress:** {lesson_progress_text(lesson)}")
        show_store_problem()


def show_restore_message() -> None:
    """The note of the progress file just restored (by :func:`progress_io`, which reruns the page to say it)."""
    if message := st.session_state.pop(RESTORED_MESSAGE_KEY, None):
        st.success(message)


def progress_io() -> None:
    """Download this learner's progress as JSON, or restore it from such a file (validated, never a traceback)."""
    st.download_button(
        "Download my progress (JSON)",
        progress_to_json(learner_progress()),
        file_name="attention_lab_progress.json",
        mime="application/json",
        key="progress_download",
        on_click="ignore",
    )
    upload = st.file_uploader("Restore progress from a file", type=["json"], key="progress_upload", max_upload_size=1)
    if upload is None or st.session_state.get("progress_upload_applied") == upload.file_id:
        return
    ignored: list[str] = []
    try:
        restored = progress_from_json(upload.getvalue(), load_lessons(), ignored)
    except ProgressError as err:
        st.error(f"Could not restore progress: {escape_markdown(str(err))}")
        return
    st.session_state[PROGRESS_KEY] = restored
    _write(lambda store, learner_id: store.replace(learner_id, restored))
    st.session_state["progress_upload_applied"] = upload.file_id
    for key in [k for k in st.session_state if str(k).endswith("::feedback")]:
        del st.session_state[key]
    message = f"Progress restored for {len(restored['lessons'])} lesson(s)."
    if ignored:
        shown = ", ".join(ignored[:MAX_IGNORED_SHOWN]) + (" and more" if len(ignored) > MAX_IGNORED_SHOWN else "")
        message += f" Left out, because this course does not have them: {shown}."
    st.session_state[RESTORED_MESSAGE_KEY] = escape_markdown(message)
    st.rerun()  # redraw the map with the restored record
