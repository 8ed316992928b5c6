"""Show a Plotly figure the one way every page does (full width, stable key; the export panel hangs off here)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st


def show_figure(fig: go.Figure, *, key: str) -> None:
    """Render `fig` at container width. `key` keeps the chart's identity stable across reruns."""
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})
