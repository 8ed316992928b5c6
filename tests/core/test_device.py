"""Device choice and the CPU thread setting of the server."""

from __future__ import annotations

import pytest
import torch

from core.measure.device import THREADS_ENV, available_devices, configure_threads, device_label, resolve_device


def test_auto_resolves_to_cuda_only_when_present():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert ("cuda" in available_devices()) == torch.cuda.is_available()
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_threads_default_to_half_the_cores(monkeypatch, one_cpu_thread):  # the conftest fixture restores the count afterwards
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert configure_threads() == 4 and torch.get_num_threads() == 4
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert configure_threads() == 1 and torch.get_num_threads() == 1
    assert "1 threads" in device_label(torch.device("cpu"))


def test_threads_from_the_environment_or_the_argument(monkeypatch, one_cpu_thread):  # the conftest fixture restores the count afterwards
    monkeypatch.setenv(THREADS_ENV, "3")
    assert configure_threads() == 3 and torch.get_num_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "zero")  # not a positive number: ignored
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert configure_threads() == 2
    assert configure_threads(1) == 1 and torch.get_num_threads() == 1
