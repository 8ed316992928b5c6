"""Attention Lab's router: page config, the course navigation from the registry, the global settings, run.

Nothing imported here loads torch: the course map paints at once while `ui.process_setup` loads the transformer core
in a background thread (and the browser loads the chart library, `ui.chart_preload`); a course page waits for the
core (a spinner) before its settings and its script run.
"""

from contextlib import nullcontext

import streamlit as st

from ui.chart_preload import preload_chart_library
from ui.deeplink import run_page
from ui.navigation import build_navigation, needs_core
from ui.process_setup import core_is_ready, start_core_warm_up, wait_for_core
from ui.settings import render_settings_sidebar

start_core_warm_up()  # once per process: torch threads, every course module, then gc.freeze() (see its module)
st.set_page_config(page_title="Attention Lab", page_icon="🔦", layout="wide")
page = st.navigation(build_navigation(), expanded=True)
if needs_core(page):  # a course page: wait for the warm-up (a spinner only while it is still running)
    with nullcontext() if core_is_ready() else st.spinner("Loading the transformer core…"):
        wait_for_core()
render_settings_sidebar()
run_page(page)
if not needs_core(page):
    preload_chart_library()  # the course map: the browser loads Plotly while the learner reads
