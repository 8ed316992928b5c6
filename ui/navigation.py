"""Turns the course registry into `st.navigation`'s sections (home first)."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from course.registry import HOME_MODULE, PAGES, SECTIONS, pages_in_section

HOME_URL_PATH = "home"


NAVIGATION_KEY = "_navigation"


def build_navigation() -> dict[str, list[st.Page]]:
    """{section: [st.Page, ...]} with the course map as the default page, built once per session (each st.Page
    resolves and checks its file: ~3 ms a run for the whole course). Kept in the session, not shared: st.navigation
    marks the page it picks on the object itself."""
    if NAVIGATION_KEY not in st.session_state:
        st.session_state[NAVIGATION_KEY] = _course_pages()
    return st.session_state[NAVIGATION_KEY]


def _course_pages() -> dict[str, list[st.Page]]:
    nav: dict[str, list[st.Page]] = {
        "Start": [st.Page(HOME_MODULE, title="Course map", icon="🗺️", url_path=HOME_URL_PATH, default=True)]
    }
    for section in SECTIONS:
        entries = pages_in_section(section)
        if entries:
            nav[section] = [st.Page(e.module, title=e.title, icon=e.icon, url_path=e.slug) for e in entries]
    assert sum(len(v) for v in nav.values()) == len(PAGES) + 1
    return nav


def needs_core(page: StreamlitPage) -> bool:
    """Whether `page` (what `st.navigation` returned) runs the transformer core: every course page but the map.

    Told by the page's URL path, a registry slug (the map is the default page, whose URL path is "")."""
    return page.url_path in {entry.slug for entry in PAGES}
