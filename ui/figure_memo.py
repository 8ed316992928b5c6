"""Build a figure only when what it shows changed: each session keeps the last figure of every chart key.

A widget change reruns the whole page, but usually changes one section's inputs: the other sections' figures
are the same as in the last run. Building a Plotly figure (validating every trace and axis) costs 2–20 ms, so
:func:`memo_figure` rebuilds a chart only when its builder or an argument differs from the last run's, compared by
value (:func:`inputs_digest`). The figures live in this learner's ``st.session_state`` (never shared, never
mutated after they are built); the numbers behind them still come from the core through the pages' caches.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

MEMO_KEY = "_figure_memo"


def _feed(h: Any, value: Any) -> None:
    """Feed ``value`` into hash ``h``: type-tagged, so 1, 1.0, "1" and (1,) differ."""
    h.update(type(value).__qualname__.encode())
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, enum.Enum, PurePath)):
        h.update(repr(value).encode())
    elif isinstance(value, torch.Tensor):
        _feed(h, value.detach().to("cpu").numpy())
    elif isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (tuple, list)):
        h.update(str(len(value)).encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(str(len(value)).encode())
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _feed(h, f.name)
            _feed(h, getattr(value, f.name))
    elif isinstance(value, functools.partial):
        _feed(h, (value.func, value.args, value.keywords))
    elif callable(value):
        if getattr(value, "__closure__", None) or getattr(value, "__name__", "") == "<lambda>":
            raise TypeError("memo_figure needs a named builder: a lambda or closure hides the values it draws")
        h.update(f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}".encode())
    else:
        raise TypeError(f"memo_figure cannot compare a {type(value).__qualname__} argument; pass plain values")


def inputs_digest(build: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> str:
    """A digest of ``build`` (by name) and the values of its arguments: numbers, strings, tuples, lists, dicts,
    numpy arrays and tensors (dtype, shape and bytes), dataclasses (field by field). Anything else is a TypeError."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, build)
    _feed(h, args)
    _feed(h, dict(sorted(kwargs.items())))
    return h.hexdigest()


def memo_figure(key: str, build: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> go.Figure:
    """``build(*args, **kwargs)``, or the figure this session built under ``key`` in an earlier run when the builder
    and every argument are the same (:func:`inputs_digest`). One figure is kept per key: the last one."""
    digest = inputs_digest(build, args, kwargs)
    memo: dict[str, tuple[str, go.Figure]] = st.session_state.setdefault(MEMO_KEY, {})
    kept = memo.get(key)
    if kept is not None and kept[0] == digest:
        return kept[1]
    fig = build(*args, **kwargs)
    memo[key] = (digest, fig)
    return fig


def forget_figures() -> None:
    """Drop this session's kept figures (the next run builds every figure again)."""
    st.session_state.pop(MEMO_KEY, None)
