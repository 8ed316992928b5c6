"""Where tensors live: resolve the learner's device choice and name it."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def available_devices() -> list[str]:
    """Choices a learner can pick here: 'auto' and 'cpu' always, 'cuda' only when a GPU is visible."""
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def resolve_device(choice: str = "auto") -> torch.device:
    """'auto' → cuda when available else cpu; 'cuda' without a GPU falls back to cpu (never raises)."""
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {choice!r}; choose one of {DEVICE_CHOICES}")
    if choice in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def device_label(device: torch.device) -> str:
    """Human name of a device, e.g. 'CUDA — NVIDIA H100 80GB HBM3' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA — {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


THREADS_ENV = "ATTENTION_LAB_THREADS"


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op CPU threads for a server that runs one script thread per browser session.

    The course's tensors are small: splitting one op over several threads costs more in hand-offs than it saves,
    and concurrent sessions then fight over the same cores (on a 2-core machine, 2 threads made reruns ~25 % slower
    than 1, measured with bench/bench_pages.py). Default: half the cores (at least 1); ``threads`` or the
    ``ATTENTION_LAB_THREADS`` environment variable override it. Returns the number set.
    """
    if threads is None:
        env = os.environ.get(THREADS_ENV, "").strip()
        threads = int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) // 2)
    if torch.get_num_threads() != threads:  # app.py calls this on every rerun: set it once
        torch.set_num_threads(threads)
    return threads
