"""Helpers for headless page tests with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TIMEOUT_S = 180


def open_page(module: str, **session_state) -> AppTest:
    """Run app.py, switch to the page at `module` (e.g. 'pages/foundations/masks.py') and return the run AppTest."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for key, value in session_state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(module)
    at.run()
    return at


def chart_specs(at: AppTest) -> list[dict]:
    """The Plotly JSON spec of every chart on the page."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def trace_has_data(trace: dict) -> bool:
    """True when a Plotly trace carries at least one value in any of its data arrays."""
    for field in ("z", "y", "x", "values", "r", "lat", "a"):
        value = trace.get(field)
        if isinstance(value, dict) and "bdata" in value:  # plotly>=6 typed-array encoding
            return len(value["bdata"]) > 0
        if isinstance(value, list) and len(value) > 0:
            return True
    return False


def error_messages(at: AppTest) -> list[str]:
    """Exceptions (tracebacks) shown on the page, as text."""
    return [str(e.value) for e in at.exception]
