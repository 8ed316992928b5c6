"""Attention Lab's router: page config, the course navigation from the registry, the global settings, run."""

import streamlit as st

from core.measure.device import configure_threads
from ui.deeplink import run_page
from ui.navigation import build_navigation
from ui.process_setup import prepare_server_process
from ui.settings import render_settings_sidebar

prepare_server_process()  # once: import every course module, then keep them out of the post-rerun full GC
configure_threads()  # torch CPU threads for a multi-session server (see its docstring)
st.set_page_config(page_title="Attention Lab", page_icon="🔦", layout="wide")
page = st.navigation(build_navigation(), expanded=True)
render_settings_sidebar()
run_page(page)
