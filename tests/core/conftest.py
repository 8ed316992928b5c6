"""Core test setup: a fixed seed per test and the `cuda` marker (also registered in pyproject.toml)."""

from __future__ import annotations

import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
