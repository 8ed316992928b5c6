"""A search box over the lessons (course.search); each hit links to its page."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from course.markdown_text import escape_markdown
from course.registry import page_by_slug
from course.search import search_lessons

MAX_SEARCH_HITS = 8


def lesson_search_box() -> None:
    """A search field over lesson titles and text; each hit links to its page. Nothing typed is shown as HTML."""
    query = st.text_input("Search the lessons", key="lesson_search", placeholder="e.g. KV cache, RoPE, softmax")
    if not query.strip():
        return
    hits = search_lessons(query)
    if not hits:
        st.info("No lesson contains all of these words. Try fewer or different words.")
        return
    for hit in hits[:MAX_SEARCH_HITS]:
        page = page_by_slug(hit.page_slug)
        title = escape_markdown(hit.lesson.title)
        try:
            st.page_link(page.module, label=title, icon=page.icon)
        except StreamlitAPIException:  # an app run without st.navigation (a single-script test app) has no pages
            st.markdown(f"**{title}**")
        st.caption(escape_markdown(hit.snippet))
    if len(hits) > MAX_SEARCH_HITS:
        st.caption(f"…and {len(hits) - MAX_SEARCH_HITS} more; add a word to narrow the search.")
