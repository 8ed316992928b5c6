"""Lesson text on screen with its live numbers filled in by the core (course.placeholders)."""

from __future__ import annotations

import streamlit as st

from course.markdown_text import escape_markdown
from course.placeholders import render_placeholders


def live_text(text: str) -> str:
    """`text` with its `{{ … }}` numbers computed by the core. A number that fails is a bug in the lesson: it reads
    'n/a' and an error under the text names the placeholder and why."""
    rendered, errors = render_placeholders(text)
    if errors:
        st.error("Some live numbers (shown as n/a) could not be computed: " + escape_markdown("; ".join(errors)))
    return rendered
