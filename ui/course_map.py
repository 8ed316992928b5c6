"""The course map: where to continue, a search over the lessons, every section and page with the learner's progress
per section and per lesson, and the learner's personal link, code and progress file.

Imports neither torch nor the core (the home page paints before either is loaded).
"""

from __future__ import annotations

import streamlit as st

from course.lesson_format import Lesson, load_lessons
from course.markdown_text import escape_markdown
from course.quiz import lesson_progress, next_lesson, section_progress
from course.registry import PAGES, SECTIONS, page_by_slug, pages_in_section
from ui.learner import NOTICE_KEY, adopt_code, current_learner, personal_link
from ui.lesson_search import lesson_search_box
from ui.progress import (
    PROGRESS_KEY,
    learner_progress,
    lesson_progress_text,
    progress_io,
    show_restore_message,
    show_store_problem,
    start_progress_run,
)

LINK_PANEL = "course_map_link_panel"  # widget keys of the two panels under "Your progress" (True while open)
FILES_PANEL = "course_map_files_panel"


def render_course_map() -> None:
    """The whole map, below the home page's title."""
    start_progress_run()
    lessons = load_lessons()
    _continue_link(lessons)
    show_store_problem()
    lesson_search_box()
    rows = {row.section: row for row in section_progress(learner_progress(), lessons, SECTIONS)}
    for section in SECTIONS:
        entries = pages_in_section(section)
        if entries:
            st.subheader(section)
            if section in rows:
                row = rows[section]
                st.progress(
                    row.fraction,
                    text=f"{row.read}/{row.lessons} lessons read · {row.answered}/{row.questions} questions answered"
                    f" · {row.correct} right",
                )
            for entry in entries:
                st.page_link(entry.module, label=f"{entry.title} — {entry.summary}", icon=entry.icon)
                for lesson in [x for x in lessons if x.page == entry.slug]:
                    st.caption(f"📖 {escape_markdown(lesson.title)} — {lesson_progress_text(lesson)}")
    st.subheader("Your progress")
    _personal_link_panel()
    show_restore_message()  # above the panel: seen whether the learner keeps it open or not
    files = st.expander("💾 Download or restore your progress (JSON file)", key=FILES_PANEL, on_change="rerun")
    if files.open:  # drawn only once opened (a rerun): the map's first paint skips the upload and download widgets
        with files:
            progress_io()


def _continue_link(lessons: tuple[Lesson, ...]) -> None:
    """"Start here" before anything is done, "Continue where you left off" after, a note when all is done."""
    progress = learner_progress()
    started = any(row.read or row.answered for row in lesson_progress(progress, lessons))
    lesson = next_lesson(progress, lessons)
    if lesson is None:
        st.success("You have read every lesson and answered every question. 🎉")
        return
    if not started and PAGES:
        st.page_link(PAGES[0].module, label=f"**Start here:** {PAGES[0].title}", icon="▶️")
        return
    page = page_by_slug(lesson.page)
    st.page_link(page.module, label=f"**Continue where you left off:** {lesson.title}", icon="▶️")


def _personal_link_panel() -> None:
    """The learner's personal link and code, and a box to take the progress kept under another browser's code."""
    learner = current_learner()
    panel = st.expander("🔑 Continue in another browser (your personal link and code)", key=LINK_PANEL,
                        on_change="rerun")
    if not panel.open:  # drawn once opened, as the progress file panel
        return
    with panel:
        if not learner.saved:
            st.caption("Your personal link works again once your progress can be saved.")
        else:
            st.markdown(
                "This server keeps your progress under a personal code, and this browser remembers it. Open your "
                "personal link in another browser, or type the code there, to continue with the same progress. "
                "Keep both private: whoever has them can see and change your progress."
            )
            st.code(personal_link(learner), language=None)
            st.caption("Your personal code")
            st.code(learner.id, language=None)
        with st.form("learner_code_form", clear_on_submit=True, border=False):
            code = st.text_input("A personal code from another browser", key="learner_code", max_chars=64)
            used = st.form_submit_button("Use this code")
        if used:
            if adopt_code(code):
                st.session_state.pop(PROGRESS_KEY, None)
                st.session_state[NOTICE_KEY] = ("info", "This browser now keeps the progress of that code.")
                st.rerun()
            st.error("No progress is kept under that code on this server. Check it and try again.")
