"""Figures for the KV cache: formula vs real tensor bytes, MHA vs GQA vs MQA, time per token with and without it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from core.measure.kv_cache_math import CacheCheck
from figures.layout import single_layout
from figures.memory import LEGEND_BELOW

KIB, GIB = 1 << 10, 1 << 30
SHARING_COLORS = ("#cb181d", "#2171b5", "#238b45")  # MHA, GQA, MQA


def human_bytes(n: float) -> str:
    """1536 -> '1.50 KiB'; binary units."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return f"{n:,.2f} TiB"


def cache_growth_figure(check: CacheCheck, *, title: str) -> go.Figure:
    """Bytes held by the real caches after each forward call (markers) on the formula's line."""
    traces = [
        go.Scatter(x=[0, *check.lengths], y=[0, *(b / KIB for b in check.formula_bytes)], mode="lines",
                   name="formula 2·L·H_kv·d·T·B·s",
                   line={"color": "#636363", "dash": "dash"},
                   hovertemplate="T = %{x}<br>formula %{y:,.2f} KiB<extra></extra>"),
        go.Scatter(x=check.lengths, y=[b / KIB for b in check.real_bytes], mode="markers",
                   name="real tensors: Σ element_size · numel", marker={"color": "#2171b5", "size": 10},
                   hovertemplate="T = %{x}<br>real %{y:,.2f} KiB<extra></extra>"),
    ]
    layout = single_layout(title, "cached positions T", "KV cache of all layers (KiB)", height=400,
                           legend=LEGEND_BELOW)
    layout["xaxis"]["rangemode"] = layout["yaxis"]["rangemode"] = "tozero"
    return go.Figure(traces, layout)


def sharing_figure(sizes: Mapping[str, int], *, title: str) -> go.Figure:
    """KV-cache bytes (GiB) of the same model shape with MHA, GQA and MQA, one bar each, labelled."""
    labels = list(sizes)
    bar = go.Bar(x=labels, y=[b / GIB for b in sizes.values()], marker_color=list(SHARING_COLORS[: len(labels)]),
                 text=[human_bytes(b) for b in sizes.values()], textposition="outside",
                 hovertemplate="%{x}<br>%{y:,.3f} GiB<extra></extra>")
    layout = single_layout(title, "key/value heads", "KV cache (GiB)", height=380)
    top = max(sizes.values(), default=0) / GIB
    layout["yaxis"]["range"] = [0, top * 1.15 or 1]
    return go.Figure([bar], layout)


def decode_time_figure(timings: Mapping[str, Sequence[float]], prompt_len: int, *, title: str) -> go.Figure:
    """Milliseconds to produce each new token, one line per mode; token 0 includes the prefill of the prompt."""
    colors = {"with KV cache": "#2171b5", "without cache (recompute all)": "#cb181d"}
    traces = [
        go.Scatter(x=list(range(1, len(times) + 1)), y=[t * 1e3 for t in times], mode="lines+markers", name=mode,
                   line={"color": colors.get(mode)},
                   hovertemplate=f"{mode}<br>token %{{x}}<br>%{{y:,.2f}} ms<extra></extra>")
        for mode, times in timings.items()
    ]
    layout = single_layout(title, f"generated token (after a {prompt_len}-token prompt; token 1 includes the prefill)",
                           "time for this token (ms, log scale)", height=420, legend=LEGEND_BELOW)
    layout["yaxis"]["type"] = "log"
    return go.Figure(traces, layout)
