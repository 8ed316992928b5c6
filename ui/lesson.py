"""Lessons on screen: objectives, prose with live numbers and math, the real core code, predict-then-check quizzes;
and, for the home page, progress per section, progress download/upload and lesson search.

Parsing, grading and the progress schema live in ``course/`` (tested without Streamlit); this module only draws.
Progress is ``st.session_state["progress"]`` (schema: ``course.quiz``). Widget keys are ``<kind>::<lesson>::<question>``.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from course.lessons import (
    Lesson,
    LessonError,
    PlaceholderError,
    Question,
    code_source,
    demote_headings,
    escape_markdown,
    lesson_by_id,
    lessons_for_page,
    load_lessons,
    render_placeholders,
    search_lessons,
)
from course.quiz import (
    ProgressError,
    SectionProgress,
    check_answer,
    empty_progress,
    expected_answer,
    lesson_record,
    parse_number,
    progress_from_json,
    progress_to_json,
    record_answer,
    section_progress,
    set_read,
)
from course.registry import PAGES, SECTIONS, PageEntry

PROGRESS_KEY = "progress"
MAX_SEARCH_HITS = 8


def _progress() -> dict:
    if PROGRESS_KEY not in st.session_state:
        st.session_state[PROGRESS_KEY] = empty_progress()
    return st.session_state[PROGRESS_KEY]


def _live(text: str) -> str:
    """Text with its `{{ … }}` numbers computed by the core; a number that cannot be computed yet reads 'n/a'."""
    rendered, errors = render_placeholders(text)
    if errors:
        st.caption("Some live numbers (shown as n/a) cannot be computed yet: " + escape_markdown("; ".join(errors)))
    return rendered


# ---------------------------------------------------------------- one page's lessons


def render_lesson(entry: PageEntry) -> None:
    """Every lesson of page `entry` (its own lessons, then the registry's lesson file if that one is elsewhere)."""
    try:
        lessons = lessons_for_page(entry.slug, entry.lesson)
    except LessonError as err:
        st.error(f"A lesson file could not be read: {escape_markdown(str(err))}")
        return
    if not lessons:
        st.info("The lesson for this page is being written.")
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
    if lesson.prerequisites:
        titles = []
        for lesson_id in lesson.prerequisites:
            try:
                titles.append(lesson_by_id(lesson_id).title)
            except KeyError:
                titles.append(lesson_id)
        st.caption("Builds on: " + " · ".join(escape_markdown(t) for t in titles))
    st.markdown("**By the end you can**\n\n" + "\n".join(f"- {_live(o)}" for o in lesson.objectives))
    st.markdown(demote_headings(_live(lesson.body)))
    _render_code(lesson)
    _render_quiz(lesson)
    _render_read_toggle(lesson)


def _render_code(lesson: Lesson) -> None:
    if not lesson.code:
        return
    with st.expander("The code behind this lesson (the real core, read with inspect.getsource)"):
        for name in lesson.code:
            source = code_source(name)
            if source is None:
                st.info(f"`{name}` is not in the core yet; its code will appear here once it is.")
                continue
            st.caption(f"`{name}`")
            st.code(source, language="python")


def _render_quiz(lesson: Lesson) -> None:
    if not lesson.quiz:
        return
    st.markdown("#### Predict, then check")
    for number, question in enumerate(lesson.quiz, start=1):
        _render_question(lesson, question, number)


def _render_question(lesson: Lesson, q: Question, number: int) -> None:
    key = f"quiz::{lesson.id}::{q.id}"
    try:
        expected_answer(q)  # a live answer that cannot be computed yet: say so instead of grading wrongly
    except PlaceholderError:
        st.info(f"Question {number} needs a number from the live core, which is not available yet.")
        return
    with st.form(key=f"{key}::form", border=True):
        st.markdown(f"**Q{number}.** {_live(q.prompt)}")
        if q.kind == "mc":
            response = st.radio(
                "Your prediction",
                range(len(q.options)),
                index=None,
                key=f"{key}::choice",
                format_func=lambda i: render_placeholders(q.options[i])[0],
            )
        else:
            typed = st.text_input(
                "Your prediction" + (f" ({q.unit})" if q.unit else ""),
                key=f"{key}::number",
                placeholder="a number, e.g. 1,024 or 0.5",
            )
        submitted = st.form_submit_button("Check")
    if submitted:
        if q.kind == "numeric":
            try:
                response = parse_number(typed)
            except ValueError as err:
                st.warning(str(err))
                return
        if response is None:
            st.warning("Make a prediction first, then check it.")
            return
        feedback = check_answer(q, response)
        record_answer(_progress(), lesson.id, q.id, feedback.correct)
        st.session_state[f"{key}::feedback"] = feedback
    feedback = st.session_state.get(f"{key}::feedback")
    if feedback is not None:
        (st.success if feedback.correct else st.error)(
            ("Right. " if feedback.correct else "Not quite. ") + escape_markdown(feedback.message)
        )
        st.markdown(_live(q.explanation))


def _render_read_toggle(lesson: Lesson) -> None:
    key = f"read::{lesson.id}"
    st.session_state[key] = lesson_record(_progress(), lesson.id)["read"]  # progress is the source of truth

    def on_change() -> None:
        set_read(_progress(), lesson.id, st.session_state[key])

    st.checkbox("I have read this lesson", key=key, on_change=on_change)


# ---------------------------------------------------------------- home page: progress, files, search


def progress_summary() -> list[SectionProgress]:
    """Per-section counts (lessons read, questions right) of this session's progress."""
    return section_progress(_progress(), load_lessons(), SECTIONS)


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
            record = _progress()["lessons"].get(lesson.id, {})
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
        progress_to_json(_progress()),
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


def lesson_search_box() -> None:
    """A search field over lesson titles and text; each hit links to its page. Nothing typed is shown as HTML."""
    query = st.text_input("Search the lessons", key="lesson_search", placeholder="e.g. KV cache, RoPE, softmax")
    if not query.strip():
        return
    hits = search_lessons(query)
    if not hits:
        st.info("No lesson contains all of these words. Try fewer or different words.")
        return
    pages = {p.slug: p for p in PAGES}
    for hit in hits[:MAX_SEARCH_HITS]:
        page = pages.get(hit.page_slug)
        title = escape_markdown(hit.lesson.title)
        try:
            if page is None:
                raise StreamlitAPIException("page not routed yet")
            st.page_link(page.module, label=title, icon=page.icon)
        except StreamlitAPIException:
            st.markdown(f"**{title}**")
        st.caption(escape_markdown(hit.snippet))
    if len(hits) > MAX_SEARCH_HITS:
        st.caption(f"…and {len(hits) - MAX_SEARCH_HITS} more; add a word to narrow the search.")
