"""Shared test setup: register markers' skip logic and clear Streamlit caches between AppTests."""

from __future__ import annotations

import pytest
import torch

from core.kernels.flash_attention import interpret_without_gpu

# Triton fixes compiled-or-interpreted when it is first imported, and torch imports it early (torch._dynamo does):
# without a GPU, choose its interpreter now, before any test or page runs (core.kernels' tests need it).
interpret_without_gpu()


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
