"""The frame of every course page: title, one-line summary, the lesson beside the live lab."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from course.registry import page_by_slug
from ui.deeplink import restore_from_url, write_to_url
from ui.lesson import render_lesson
from ui.progress import start_progress_run
from ui.settings import SETTINGS_PREFIX


def page_shell(slug: str) -> DeltaGenerator:
    """Draw the page header and its lesson; return the container the page fills with widgets and figures.

    Layout: the lab (live figures) on the left, wide; the lesson prose beside it in a scrollable column, so the
    learner reads and pokes at once. On narrow screens Streamlit stacks the two.
    """
    entry = page_by_slug(slug)
    start_progress_run()  # the learner (cookie or personal link) and its saved progress
    restore_from_url(f"{slug}_")
    write_to_url((f"{slug}_", SETTINGS_PREFIX))
    st.title(f"{entry.icon} {entry.title}")
    st.caption(entry.summary)
    lab, lesson = st.columns([3, 2], gap="large")
    with lesson:
        with st.container(height=900, border=True):
            render_lesson(entry)
    return lab

