"""Prepare the long-lived `streamlit run` process once: import every course module, then freeze what is alive.

Streamlit imports a page's modules the first time someone opens that page. Importing them all up front (~2.3 s
once per server process on the 2-core CPU, torch's lazily imported compiler modules included) lets
:func:`ui.gc_tuning.freeze_startup_objects` move them, with torch, Plotly, pandas and matplotlib, out of the full
garbage collection that Streamlit runs after every rerun.
"""

from __future__ import annotations

import importlib
import pkgutil

import torch

from core.kernels.flash_attention import interpret_without_gpu
from ui.gc_tuning import freeze_startup_objects

COURSE_PACKAGES = ("core", "figures", "ui", "course")

_prepared = False


def import_course_modules(packages: tuple[str, ...] = COURSE_PACKAGES) -> list[str]:
    """Import every module of ``packages`` (and so every library they import). Returns the module names."""
    names = []
    for package in packages:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


def import_torch_lazy_modules() -> None:
    """Run one op on the ``meta`` device, as the parameter counts and shape checks do (core.measure.kv_cache_math,
    core.lab.residual, course.lessons): torch runs meta ops through its Python reference kernels, which import
    torch._dynamo and sympy (~830 modules, ~1.5 s) the first time."""
    with torch.device("meta"):
        torch.ones(2, 2) / 2.0  # (2, 2) on meta: no memory


def prepare_server_process() -> int:
    """Once per process: import the course's modules (and torch's lazy ones), then freeze every live object.

    Returns the number of objects frozen."""
    global _prepared
    if _prepared:
        return 0
    interpret_without_gpu()  # before torch._dynamo imports Triton: without a GPU, its kernels run interpreted
    import_course_modules()
    import_torch_lazy_modules()
    _prepared = True
    return freeze_startup_objects()
