"""Where tensors live: resolve the learner's device choice and name it."""

from __future__ import annotations

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
