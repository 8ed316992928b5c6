"""The course's structure: which pages exist, in which section and order, and their lessons.

Pure Python (no streamlit, no torch), so the app, the tests and the lesson tools share one source of truth.
"""
