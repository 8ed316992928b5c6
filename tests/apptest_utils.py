"""Helpers for headless page tests with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
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


def open_export_panels(at: AppTest) -> AppTest:
    """Open every chart's export panel (as a learner's click does: its widget state becomes True) and rerun."""
    from ui.charts import EXPORT_SUFFIX

    for key in [k for k in at.session_state.keys() if str(k).endswith(EXPORT_SUFFIX)]:
        at.session_state[key] = True
    return at.run()


def plotly_values(field) -> np.ndarray:
    """A Plotly JSON data array (plain list with None for gaps, or plotly>=6 typed array {dtype, bdata, shape}) as
    a float numpy array (gaps as NaN)."""
    if isinstance(field, dict) and "bdata" in field:
        arr = np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
        if field.get("shape"):
            arr = arr.reshape([int(s) for s in str(field["shape"]).split(",")])
        return arr.astype(float)
    return np.array([[np.nan if v is None else v for v in row] if isinstance(row, list) else
                     (np.nan if row is None else row) for row in field], dtype=float)


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


def section_line(section: str, read: int, answered: int, right: int) -> str:
    """The course map's progress text of `section` (its totals counted from the lessons, so edits to them do not
    break the tests)."""
    from course.lesson_format import load_lessons

    mine = [x for x in load_lessons() if x.section == section]
    return (f"{read}/{len(mine)} lessons read · {answered}/{sum(len(x.quiz) for x in mine)} questions answered"
            f" · {right} right")


def lesson_line(lesson_id: str, read: bool, answered: int, right: int) -> str:
    """A lesson's own progress text (on its page and on the course map)."""
    from course.lesson_format import lesson_by_id

    total = len(lesson_by_id(lesson_id).quiz)
    return f"{'✅ read' if read else '▫️ not read yet'} · {answered}/{total} questions answered, {right} right"
