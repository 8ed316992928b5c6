"""The browser's half of the cold start: load the chart library while the learner reads the course map.

Streamlit's frontend fetches and compiles its Plotly component (~4.7 MB of JavaScript) the first time a page shows
a Plotly chart. On the 2-core machine that took longer than the server's whole first script run of a course page,
so the first chart waited for it. The map draws no chart of its own; an empty chart at its foot makes the browser
load the library while the learner reads, as the server loads the core (`ui.process_setup`). It is left out of a
map run while the server imports the core (another learner's map, opened during the first one's warm-up): Plotly
cannot encode a chart then (:func:`ui.process_setup.outside_core_imports`).
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui.process_setup import outside_core_imports

PRELOAD_KEY = "chart_library_preload"
PRELOAD_HEIGHT_PX = 10  # Plotly's smallest height


_HIDDEN_AXIS = {"visible": False, "fixedrange": True}
# Built once (validating a layout costs ~2 ms a rerun); Streamlit copies a figure before sending it, never changes it.
_EMPTY_FIGURE = go.Figure(layout={
    "height": PRELOAD_HEIGHT_PX, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "xaxis": _HIDDEN_AXIS,
    "yaxis": _HIDDEN_AXIS, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
})


def preload_chart_library() -> None:
    """Draw an empty, transparent, static chart, PRELOAD_HEIGHT_PX high (no axes, no mode bar, nothing to hover),
    unless the core is being imported right now."""
    outside_core_imports(_draw_empty_chart)


def _draw_empty_chart() -> None:
    st.plotly_chart(_EMPTY_FIGURE, key=PRELOAD_KEY,
                    config={"staticPlot": True, "displayModeBar": False})
