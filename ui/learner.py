"""Who is learning in this browser: an unguessable id, kept in a cookie, movable by a personal link or code.

The id (``course.progress_store.new_learner_id``: 128 random bits) is minted on a browser's first visit and kept in
the cookie ``attention_lab_learner``, which the browser sends with every later session (reloads, server restarts).
Streamlit can read cookies (``st.context.cookies``) but not set them, so a one-line script sets it.

Another browser takes the same progress through the personal link (``/?learner=<id>``) or by typing the code;
the parameter is removed from the address at once, and ``ui.deeplink`` only ever writes page and settings inputs,
so no shared view carries an identity. Only ids the database already knows are taken: a malformed, unknown or
made-up id gets a fresh identity of its own, never someone else's progress.

When the database cannot be used, the session still gets an identity and keeps its progress in memory
(``Learner.problem`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from course.progress_store import LEARNER_ID, ProgressStore, StoreError, is_learner_id, new_learner_id

COOKIE = "attention_lab_learner"
LINK_PARAM = "learner"
COOKIE_MAX_AGE_S = 400 * 24 * 3600  # the longest browsers keep a cookie
LEARNER_KEY = "_learner"
NOTICE_KEY = "_learner_notice"


@dataclass
class Learner:
    """This session's learner: `id`; `problem` is set (and progress lives in memory) when the database failed."""

    id: str
    problem: str | None = None

    @property
    def saved(self) -> bool:
        """True while this learner's progress goes to the database."""
        return self.problem is None


def progress_store() -> ProgressStore:
    """The progress database of this server ($ATTENTION_LAB_DATA or the per-user data folder)."""
    return ProgressStore()


def current_learner() -> Learner:
    """This session's learner, found (personal link, then cookie) or minted on the session's first call."""
    if LEARNER_KEY not in st.session_state:
        st.session_state[LEARNER_KEY] = _resolve()
    return st.session_state[LEARNER_KEY]


def _resolve() -> Learner:
    link = st.query_params.get(LINK_PARAM)
    if link is not None:
        del st.query_params[LINK_PARAM]  # never left in the address bar, so never in a link copied from it
    cookie = st.context.cookies.get(COOKIE)
    store = progress_store()
    try:
        if link is not None:
            if store.has_learner(link):
                _notice("info", "This browser now keeps the progress of your personal link.")
                return Learner(link)
            _notice("warning", "That personal link is not known here, so this browser keeps its own progress.")
        if store.has_learner(cookie):
            return Learner(cookie)
        return Learner(store.create_learner())
    except StoreError as err:
        known = cookie if is_learner_id(cookie) else None
        return Learner(known or new_learner_id(), problem=str(err))


def adopt_code(code: str) -> bool:
    """Take the progress kept under personal `code` (from another browser) in this session; False when the code is
    malformed or unknown (the caller says so, without echoing it)."""
    code = code.strip()
    try:
        known = progress_store().has_learner(code)
    except StoreError as err:
        current_learner().problem = str(err)
        return False
    if known:
        st.session_state[LEARNER_KEY] = Learner(code)
    return known


def _notice(kind: str, text: str) -> None:
    st.session_state[NOTICE_KEY] = (kind, text)


def show_learner_notice() -> None:
    """The one-time note about a personal link this session was opened with (if any)."""
    if notice := st.session_state.pop(NOTICE_KEY, None):
        kind, text = notice
        (st.info if kind == "info" else st.warning)(text)


def _cookie_script(learner_id: str) -> str:
    """A constant script that stores `learner_id` (checked against LEARNER_ID: 22 URL-safe characters, nothing
    else can reach the markup) in the cookie, for the whole site."""
    if not LEARNER_ID.fullmatch(learner_id):
        raise ValueError("not a learner id")
    return (
        f"<script>document.cookie = '{COOKIE}={learner_id}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; SameSite=Lax';"
        "</script>"
    )


def keep_learner_in_browser() -> None:
    """Until the browser sends this learner's cookie, draw the (invisible) script that sets it, in the sidebar."""
    learner = current_learner()
    if st.context.cookies.get(COOKIE) == learner.id:
        return
    with st.sidebar:
        st.html(_cookie_script(learner.id), unsafe_allow_javascript=True)


def personal_link(learner: Learner) -> str:
    """The address that opens this course with `learner`'s progress in any browser (keep it private)."""
    base = (st.context.url or "").rstrip("/")
    return f"{base}/?{LINK_PARAM}={learner.id}"
