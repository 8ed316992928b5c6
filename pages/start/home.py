"""Course map: every section and page with a one-line description and a link, plus progress and search."""

import streamlit as st

from course.registry import PAGES, SECTIONS, pages_in_section

st.title("🔦 Attention Lab")
st.markdown(
    "An interactive course on attention and transformers. Every number on these pages is computed live by a real "
    "transformer written from scratch in PyTorch — change a slider and watch it recompute."
)

if PAGES:
    first = PAGES[0]
    st.page_link(first.module, label=f"**Start here:** {first.title}", icon="▶️")

for section in SECTIONS:
    entries = pages_in_section(section)
    if not entries:
        continue
    st.subheader(section)
    for entry in entries:
        st.page_link(entry.module, label=f"{entry.title} — {entry.summary}", icon=entry.icon)
