"""Shared test setup: register markers' skip logic and clear Streamlit caches between AppTests."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def one_cpu_thread():
    """Run a test's CPU work on one thread, then restore the count. Tiny models and small tiles make each op tiny,
    and on a busy 2-core machine two OpenMP threads wait on each other at every op (measured: 15 s instead of 0.3 s
    for one tiled call, ~20x for training steps); results and measured bytes do not depend on the thread count.
    Use it for a whole file with ``pytestmark = pytest.mark.usefixtures("one_cpu_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
