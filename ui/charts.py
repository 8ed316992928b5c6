"""Show a Plotly figure the one way every page does: full width, stable key, and the shared export panel."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from figures.export import (
    AttentionExport,
    attention_csv,
    attention_json,
    attention_npz,
    attention_zip,
    figure_data_csv,
    figure_data_json,
    figure_digest,
    figure_html,
    figure_image,
)

EXPORT_SUFFIX = "_export"  # the export panel's widget key: <chart key>_export (True while it is open)


def show_figure(fig: go.Figure, *, key: str, export: AttentionExport | None = None, name: str | None = None) -> None:
    """Render `fig` at container width, with an export popover under it.

    Every figure exports PNG / SVG (matplotlib, offline) and interactive HTML. With `export` (the attention tensors
    behind the figure) it also offers tidy CSV, JSON, NPZ and a ZIP of every layer × head; without, the figure's own
    numbers as tidy CSV and JSON (:func:`figures.export.figure_data_frame`). The buttons are drawn only while the
    learner has the panel open (opening it reruns the page: widget key ``<key>_export``), and each file is made
    only when its button is clicked (lazy callables), so a closed panel costs a rerun almost nothing. File names:
    ``name``, else the attention export's (page, model, layer, head, hash of the inputs), else the chart key plus a
    short digest of what the figure shows (:func:`figures.export.figure_digest`).
    """
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})
    panel = st.popover("⬇️ Export", width="content", key=f"{key}{EXPORT_SUFFIX}", on_change="rerun")
    if panel.open:
        stem = name or (export.stem() if export else f"{key}_{figure_digest(fig)}")
        with panel:
            _export_buttons(fig, key, stem, export)


def _export_buttons(fig: go.Figure, key: str, stem: str, export: AttentionExport | None) -> None:
    buttons = [
        ("PNG image", lambda: figure_image(fig, "png"), f"{stem}.png", "image/png"),
        ("SVG image", lambda: figure_image(fig, "svg"), f"{stem}.svg", "image/svg+xml"),
        ("Interactive HTML", lambda: figure_html(fig), f"{stem}.html", "text/html"),
    ]
    if export is None:
        buttons += [
            ("CSV (the figure's numbers, tidy)", lambda: figure_data_csv(fig), f"{stem}.csv", "text/csv"),
            ("JSON (the figure's data)", lambda: figure_data_json(fig), f"{stem}.json", "application/json"),
        ]
    else:
        buttons += [
            ("CSV (tidy: layer, head, query, key, weight)", lambda: attention_csv(export), export.file_name("csv"),
             "text/csv"),
            ("JSON (raw tensors)", lambda: attention_json(export), export.file_name("json"), "application/json"),
            ("NPZ (numpy arrays)", lambda: attention_npz(export), export.file_name("npz"), "application/octet-stream"),
            ("ZIP (every layer × head as PNG + data)", lambda: attention_zip(export), export.file_name("zip"),
             "application/zip"),
        ]
    for i, (label, make, file_name, mime) in enumerate(buttons):
        st.download_button(label, data=make, file_name=file_name, mime=mime, key=f"{key}_export_{i}",
                           on_click="ignore", width="stretch")
