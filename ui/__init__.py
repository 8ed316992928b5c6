"""Shared Streamlit widgets: settings sidebar, page shell, chart display. Pages import these; figures/core never do."""
