"""The learner's progress on screen: the "I have read this lesson" box, progress per section, and the progress
file (download / restore).

Progress is ``st.session_state["progress"]`` (schema and checks: ``course.quiz``); this module only draws.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from course.lesson_format import Lesson, load_lessons
from course.markdown_text import escape_markdown
from course.quiz import (
    ProgressError,
    SectionProgress,
    empty_progress,
    lesson_record,
    progress_from_json,
    progress_to_json,
    section_progress,
    set_read,
)
from course.registry import SECTIONS

PROGRESS_KEY = "progress"


def learner_progress() -> dict[str, Any]:
    """This session's progress record (created empty on first use)."""
    if PROGRESS_KEY not in st.session_state:
        st.session_state[PROGRESS_KEY] = empty_progress()
    return st.session_state[PROGRESS_KEY]


def render_read_toggle(lesson: Lesson) -> None:
    """The "I have read this lesson" checkbox, kept in step with the progress record."""
    key = f"read::{lesson.id}"
    st.session_state[key] = lesson_record(learner_progress(), lesson.id)["read"]  # progress is the source of truth

    def on_change() -> None:
        set_read(learner_progress(), lesson.id, st.session_state[key])

    st.checkbox("I have read this lesson", key=key, on_change=on_change)


def progress_summary() -> list[SectionProgress]:
    """Per-section counts (lessons read, questions right) of this session's progress."""
    return section_progress(learner_progress(), load_lessons(), SECTIONS)


def render_progress_overview() -> None:
    """One progress bar per section, and a per-lesson list in an expander."""
    rows = progress_summary()
    for row in rows:
        st.progress(
            row.fraction,
            text=f"**{row.section}** — {row.read}/{row.lessons} lessons read, "
            f"{row.correct}/{row.questions} questions right",
        )
    with st.expander("Progress by lesson"):
        for lesson in load_lessons():
            record = learner_progress()["lessons"].get(lesson.id, {})
            right = sum(bool(record.get("quiz", {}).get(q.id)) for q in lesson.quiz)
            mark = "✅" if record.get("read") and right == len(lesson.quiz) else "▫️"
            st.markdown(
                f"{mark} {escape_markdown(lesson.title)} — {right}/{len(lesson.quiz)} right"
                + (", read" if record.get("read") else "")
            )


def progress_io() -> None:
    """Download this session's progress as JSON, or restore it from such a file (validated, never a traceback)."""
    if message := st.session_state.pop("progress_restored_message", None):
        st.success(message)
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
    try:
        restored = progress_from_json(upload.getvalue(), load_lessons())
    except ProgressError as err:
        st.error(f"Could not restore progress: {escape_markdown(str(err))}")
        return
    st.session_state[PROGRESS_KEY] = restored
    st.session_state["progress_upload_applied"] = upload.file_id
    for key in [k for k in st.session_state if str(k).endswith("::feedback")]:
        del st.session_state[key]
    st.session_state["progress_restored_message"] = f"Progress restored for {len(restored['lessons'])} lesson(s)."
    st.rerun()  # redraw the progress bars above with the restored record
