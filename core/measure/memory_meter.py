"""Measure the real peak memory of the tensors a function allocates, on CPU and on CUDA.

    peak_bytes = max over the call of (bytes of tensor storages alive now) - (bytes alive when the call started)

CUDA: the caching allocator counts every allocation (``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``), rounded up to its 512-byte blocks.
CPU: PyTorch keeps no such statistics, so :class:`LiveStorageMeter` watches every ATen op while the function runs
(a ``TorchDispatchMode``): each output whose storage is new (not one of the op's inputs, not already counted) adds
its bytes, and a ``weakref.finalize`` on that storage subtracts them when it is freed. Views, in-place ops and
``out=`` ops add nothing, as they allocate nothing. Blind spot: scratch buffers a single kernel allocates and frees
inside itself (e.g. the per-thread tiles of torch's fused CPU SDPA kernel) are not seen; they are small for the
attention kernels measured here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from core.measure.memory import MIB
from core.measure.timer import time_call


@dataclass(frozen=True)
class MemoryMeasurement:
    """Peak bytes allocated by one call (above what was allocated before it), its result, and its duration.

    ``seconds``: the one call, timed by ``core.measure.timer`` (one run, no warm-up); on CPU it includes the meter's
    own per-op overhead: time a function without the meter (``core.measure.timer.time_call``) to benchmark it.
    """

    peak_bytes: int
    result: Any
    seconds: float
    device: str
    method: str  # "cuda allocator" or "cpu live storages"

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB


def _tensors_in(value: Any) -> list[torch.Tensor]:
    """The tensors in an op's arguments or result (nested tuples, lists, dicts); cheaper than a pytree flatten."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors_in(item)]
    return []


class LiveStorageMeter(TorchDispatchMode):
    """Counts the bytes of tensor storages created on ``device_type`` while the mode is active, and their peak."""

    def __init__(self, device_type: str = "cpu") -> None:
        super().__init__()
        self.device_type = device_type
        self.live_bytes = 0
        self.peak_bytes = 0
        self._finalizers: dict[int, weakref.finalize] = {}  # storage data_ptr -> its finalizer

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {t.untyped_storage().data_ptr() for t in _tensors_in((args, kwargs))}
        for tensor in _tensors_in(out):
            self._count_if_new(tensor, inputs)
        return out

    def _count_if_new(self, tensor: torch.Tensor, input_storages: set[int]) -> None:
        storage = tensor.untyped_storage()  # one Python object per storage: it lives exactly as long as the storage
        key, nbytes = storage.data_ptr(), storage.nbytes()
        if storage.device.type != self.device_type or nbytes == 0 or key in input_storages or key in self._finalizers:
            return
        self.live_bytes += nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        self._finalizers[key] = weakref.finalize(storage, self._on_free, key, nbytes)

    def _on_free(self, key: int, nbytes: int) -> None:
        self.live_bytes -= nbytes
        self._finalizers.pop(key, None)

    def __exit__(self, *exc) -> None:
        for finalizer in list(self._finalizers.values()):
            finalizer.detach()  # storages that outlive the call (the result) stop reporting to this meter
        self._finalizers.clear()
        return super().__exit__(*exc)


def _device_of(args: tuple, kwargs: dict, device: torch.device | str | None) -> torch.device:
    """The device to measure: ``device`` if given, else that of the first tensor argument, else CPU."""
    if device is not None:
        return torch.device(device)
    tensors = _tensors_in((args, kwargs))
    return tensors[0].device if tensors else torch.device("cpu")


def measure_peak(
    fn: Callable[..., Any], *args: Any, device: torch.device | str | None = None, **kwargs: Any
) -> MemoryMeasurement:
    """Run ``fn(*args, **kwargs)`` once and measure the peak bytes of the tensors it allocates on ``device``.

    Tensors alive before the call (the inputs) are the baseline and do not count; the result does, while it is
    alive during the call. ``device`` defaults to that of the first tensor argument.
    """
    target = _device_of(args, kwargs, device)
    results: list[Any] = []
    call = lambda: results.append(fn(*args, **kwargs))  # noqa: E731
    if target.type == "cuda":
        torch.cuda.synchronize(target)
        torch.cuda.reset_peak_memory_stats(target)
        baseline = torch.cuda.memory_allocated(target)
        seconds = time_call(call, target, repeats=1, warmup=False).median_s
        peak = torch.cuda.max_memory_allocated(target) - baseline
        return MemoryMeasurement(peak, results[0], seconds, str(target), "cuda allocator")
    meter = LiveStorageMeter(target.type)
    with meter:
        seconds = time_call(call, target, repeats=1, warmup=False).median_s
    return MemoryMeasurement(meter.peak_bytes, results[0], seconds, str(target), f"{target.type} live storages")
