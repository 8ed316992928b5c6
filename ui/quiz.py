"""A lesson's predict-then-check quiz: one form per question, graded by course.quiz, saved by ui.progress.

Widget keys are ``quiz::<lesson>::<question>::{form,choice,number,feedback}``.
"""

from __future__ import annotations

import streamlit as st

from course.lesson_format import Lesson, Question
from course.markdown_text import escape_markdown
from course.placeholders import PlaceholderError, render_placeholders
from course.quiz import check_answer, expected_answer, parse_number
from ui.live_text import live_text
from ui.progress import save_answer


def render_quiz(lesson: Lesson) -> None:
    """Every question of `lesson`, numbered, under a "Predict, then check" heading (nothing when it has none)."""
    if not lesson.quiz:
        return
    st.markdown("#### Predict, then check")
    for number, question in enumerate(lesson.quiz, start=1):
        _render_question(lesson, question, number)


def _render_question(lesson: Lesson, q: Question, number: int) -> None:
    key = f"quiz::{lesson.id}::{q.id}"
    try:
        expected_answer(q)  # an answer the core cannot compute is a bug in the lesson: say so, never grade wrongly
    except PlaceholderError as err:
        st.error(f"Question {number} cannot be checked: its answer could not be computed ({escape_markdown(str(err))}).")
        return
    with st.form(key=f"{key}::form", border=True):
        st.markdown(f"**Q{number}.** {live_text(q.prompt)}")
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
        save_answer(lesson.id, q.id, feedback.correct)
        st.session_state[f"{key}::feedback"] = feedback
    feedback = st.session_state.get(f"{key}::feedback")
    if feedback is not None:
        (st.success if feedback.correct else st.error)(
            ("Right. " if feedback.correct else "Not quite. ") + escape_markdown(feedback.message)
        )
        st.markdown(live_text(q.explanation))
