"""Shared test setup: register markers' skip logic, clear Streamlit caches between AppTests, and keep every
learner's progress database of a test run in a temporary folder (never the real per-user one)."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

from course.progress_store import DATA_ENV


def pytest_configure(config):
    """Before any test (and any server a test starts): progress goes to a fresh folder of this run."""
    os.environ[DATA_ENV] = tempfile.mkdtemp(prefix="attention-lab-test-data-")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """Each test starts with empty st.cache_data / st.cache_resource (no test sees another's cached objects)."""
    try:
        import streamlit as st
    except ImportError:  # core-only runs (e.g. on a GPU machine without the app's packages)
        yield
        return
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture(autouse=True)
def progress_data_dir(tmp_path, monkeypatch):
    """Each test gets its own, empty progress database folder ($ATTENTION_LAB_DATA)."""
    folder = tmp_path / "attention-lab-data"
    monkeypatch.setenv(DATA_ENV, str(folder))
    return folder
