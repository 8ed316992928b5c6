"""Shared test setup: register markers' skip logic, clear Streamlit caches between AppTests, and keep every
learner's progress database of a test run in a temporary folder (never the real per-user one)."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

from core.kernels.flash_attention import interpret_without_gpu
from course.progress_store import DATA_ENV

# Triton fixes compiled-or-interpreted when it is first imported, and torch imports it early (torch._dynamo does):
# without a GPU, choose its interpreter now, before any test or page runs (core.kernels' tests need it).
interpret_without_gpu()


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


@pytest.fixture(autouse=True)
def progress_data_dir(tmp_path, monkeypatch):
    """Each test gets its own, empty progress database folder ($ATTENTION_LAB_DATA)."""
    folder = tmp_path / "attention-lab-data"
    monkeypatch.setenv(DATA_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def english_gpt():
    """The shipped english-gpt (core.text_model), loaded once per test run; read it, never train it."""
    from core.text_model import load_text_model

    return load_text_model("english-gpt")


@pytest.fixture(scope="session")
def english_bert():
    """The shipped english-bert (core.text_model), loaded once per test run; read it, never train it."""
    from core.text_model import load_text_model

    return load_text_model("english-bert")
