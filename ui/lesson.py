"""Lessons on screen: objectives, prose with live numbers and math, the real core code, then the quiz
(:mod:`ui.quiz`) and the "I have read this lesson" box; above it all, the learner's progress in it
(:mod:`ui.progress`).

Parsing and the live numbers live in ``course/`` (tested without Streamlit); this module only draws.
"""

from __future__ import annotations

import streamlit as st

from course.code_refs import CodeReferenceError, code_source
from course.lesson_format import Lesson, LessonError, lesson_by_id, lessons_for_page
from course.markdown_text import demote_headings, escape_markdown
from course.registry import PageEntry
from ui.live_text import live_text
from ui.progress import render_lesson_progress, render_read_toggle
from ui.quiz import render_quiz


def render_lesson(entry: PageEntry) -> None:
    """Every lesson of page `entry` (its own lessons, then the registry's lesson file if that one is elsewhere)."""
    try:
        lessons = lessons_for_page(entry.slug, entry.lesson)
    except LessonError as err:
        st.error(f"A lesson file could not be read: {escape_markdown(str(err))}")
        return
    if not lessons:
        st.error(f"No lesson belongs to page {entry.slug!r}: lessons/{entry.lesson} is missing or names another page.")
        return
    if len(lessons) == 1:
        _render_one(lessons[0], show_title=lessons[0].title != entry.title)  # the shell already shows the page title
        return
    for tab, lesson in zip(st.tabs([x.short_title for x in lessons]), lessons, strict=True):
        with tab:
            _render_one(lesson)


def _render_one(lesson: Lesson, show_title: bool = True) -> None:
    if show_title:
        st.subheader(lesson.title)
    progress_slot = st.container()  # filled last, so it counts an answer checked in this very run
    if lesson.prerequisites:
        titles = []
        for lesson_id in lesson.prerequisites:
            try:
                titles.append(lesson_by_id(lesson_id).title)
            except KeyError:
                titles.append(lesson_id)
        st.caption("Builds on: " + " · ".join(escape_markdown(t) for t in titles))
    st.markdown("**By the end you can**\n\n" + "\n".join(f"- {live_text(o)}" for o in lesson.objectives))
    st.markdown(demote_headings(live_text(lesson.body)))
    _render_code(lesson)
    render_quiz(lesson)
    render_read_toggle(lesson)
    render_lesson_progress(progress_slot, lesson)


def _render_code(lesson: Lesson) -> None:
    if not lesson.code:
        return
    with st.expander("The code behind this lesson (the real core, read with inspect.getsource)"):
        for name in lesson.code:
            try:
                source = code_source(name)
            except CodeReferenceError as err:
                st.error(f"{lesson.path.name} lists code the core does not have: {escape_markdown(str(err))}")
                continue
            st.caption(f"`{name}`")
            st.code(source, language="python")
