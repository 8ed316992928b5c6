"""Deep links: a page's inputs live in the URL's query string, so a copied link restores the same view.

Convention: every widget key of a page starts with the page's slug (``masks_window``), global settings with
``settings_``. On a session's first visit to a page, query parameters with those prefixes are copied into
``st.session_state`` before the widgets are drawn; on every run, the current values are written back to the URL.
Values travel as JSON (numbers, booleans, short strings, lists of those); anything else is not shared.
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

MAX_TEXT = 400  # longer text is not put into links (URLs have practical limits)
_RESTORED = "_deeplink_restored"
_RESTORED_KEYS = "_deeplink_keys"
_NOTICE = "_deeplink_notice"


def _shareable(value) -> bool:
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list | tuple):
        return len(value) <= 32 and all(isinstance(v, bool | int | float | str) and _shareable(v) for v in value)
    return False


def _is_one_shot_widget(key: str) -> bool:
    """Buttons (trigger values) and uploads cannot be set from session state, so they never go into a link.

    Reads the widget's value type from Streamlit's session state (internal API, guarded: unknown → shareable).
    """
    try:
        state = get_script_run_ctx().session_state._state
        widget_id = state._key_id_mapper.get_id_from_key(key, None)
        metadata = state._new_widget_state.widget_metadata.get(widget_id) if widget_id else None
    except AttributeError:
        return False
    return metadata is not None and metadata.value_type in ("trigger_value", "string_trigger_value",
                                                            "file_uploader_state_value", "chat_input_value")


def restore_from_url(prefix: str) -> None:
    """Once per session and prefix: copy `prefix*` query parameters into session state (before widgets exist)."""
    done: set = st.session_state.setdefault(_RESTORED, set())
    if prefix in done:
        return
    done.add(prefix)
    for key, raw in st.query_params.to_dict().items():
        if not key.startswith(prefix) or key in st.session_state:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue  # a hand-edited or truncated link: ignore that parameter, keep the defaults
        if _shareable(value):
            st.session_state[key] = tuple(value) if isinstance(value, list) else value
            st.session_state.setdefault(_RESTORED_KEYS, set()).add(key)


def write_to_url(prefixes: tuple[str, ...]) -> None:
    """Mirror the session's current `prefixes*` values into the URL (only what changed is rewritten)."""
    wanted = {
        key: json.dumps(list(value) if isinstance(value, tuple) else value)
        for key, value in st.session_state.to_dict().items()
        if isinstance(key, str) and key.startswith(prefixes) and _shareable(value) and not _is_one_shot_widget(key)
    }
    current = st.query_params.to_dict()
    for key in [k for k in current if k.startswith(prefixes) and k not in wanted]:
        del st.query_params[key]
    for key, raw in wanted.items():
        if current.get(key) != raw:
            st.query_params[key] = raw


def forget_url_value(key: str) -> None:
    """Drop one parameter from the URL and the session (used when a link's value is invalid for its widget)."""
    if key in st.query_params:
        del st.query_params[key]
    st.session_state.pop(key, None)


def run_page(page: st.Page) -> None:
    """Run the current page; if values restored from a link do not fit its widgets, drop them and start over.

    A hand-edited link can carry, say, a slider value above the slider's maximum (Streamlit refuses it when the
    widget is drawn) or a value of the wrong type. The learner then sees the page with its defaults and a note,
    never a traceback. Errors in a run that restored nothing from the link are raised as usual.
    """
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.warning(notice)
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001 — st.stop/st.rerun are BaseExceptions and pass through
        restored = st.session_state.pop(_RESTORED_KEYS, set())
        if not restored:
            raise
        for key in restored:
            forget_url_value(key)
        st.session_state[_NOTICE] = (
            f"This link carried settings that do not fit this page ({exc}). Showing the defaults instead."
        )
        st.rerun()
