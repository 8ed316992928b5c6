"""Course map: where to continue, lesson search, every section and page with the learner's progress, and the
learner's personal link and progress file (``ui.course_map``)."""

import streamlit as st

from ui.course_map import render_course_map

st.title("🔦 Attention Lab")
st.markdown(
    "An interactive course on attention and transformers. Every number on these pages is computed live by a real "
    "transformer written from scratch in PyTorch — change a slider and watch it recompute."
)
render_course_map()
