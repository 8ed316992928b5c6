"""Figures for multi-head attention: every head's map, the concatenation before W_O, how different the heads are,
and the tensor shapes along the way (as table rows)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from figures.heatmap import DIVERGING_SCALE, as_numpy, heatmap, heatmap_grid
from figures.small_multiples import block_separators, first_column_labels_only, symmetric_range


def head_labels(n_heads: int) -> list[str]:
    return [f"head {h}" for h in range(n_heads)]


def heads_figure(weights, labels: Sequence[str], *, shared_scale: bool = True, cols: int = 4,
                 title: str | None = None) -> go.Figure:
    """Small multiples of every head's weights ``(H, Lq, Lk)``: on one shared colour scale, or per head (each head's
    weights ÷ that head's max, one 0–1 colour bar "weight ÷ head max"; the hover shows the weight itself)."""
    w = as_numpy(weights)
    fig = heatmap_grid(w, labels, labels, head_labels(w.shape[0]), title or f"Attention weights of all {w.shape[0]} heads",
                       shared_scale=shared_scale, cols=cols, panel_name="head")
    return first_column_labels_only(fig, w.shape[0], min(cols, w.shape[0]))


def concat_figure(concat, labels: Sequence[str], n_heads: int) -> go.Figure:
    """The heads' outputs side by side ``(T, H·d_k)``, before W_O; dotted lines separate the heads."""
    c = as_numpy(concat)
    d_k = c.shape[1] // n_heads
    columns = [f"h{h}·{i}" for h in range(n_heads) for i in range(d_k)]
    lo, hi = symmetric_range(c)
    fig = heatmap(c, columns, labels, f"Concat(head_0 … head_{n_heads - 1}): ({c.shape[0]}, {n_heads}·{d_k} = "
                  f"{c.shape[1]})", colorbar_title="value", x_title="head · dimension", y_title="token",
                  colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)
    return block_separators(fig, d_k, n_heads)


def divergence_figure(divergence, title: str = "How different the heads are (mean JS divergence)") -> go.Figure:
    """Pairwise Jensen–Shannon divergence ``(H, H)`` between heads' maps (0 = identical; at most log 2, no key in
    common). The colour range runs from 0 to the largest value shown, so small differences stay visible."""
    div = as_numpy(divergence)
    names = head_labels(div.shape[0])
    return heatmap(div, names, names, title, colorbar_title="JS (nats)",
                   x_title="head", y_title="head", zmin=0, zmax=max(float(div.max()), 1e-6), colorscale="Viridis",
                   height=max(300, 120 + 24 * len(names)))


SHAPE_STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("x", "input x", "token embeddings", "(B, T, d_model)"),
    ("q", "Q, split into heads", "x W_Q → view (B, T, H, d_k) → transpose(1, 2)", "(B, H, T, d_k)"),
    ("k", "K, split into heads", "x W_K, same split", "(B, H, T, d_k)"),
    ("v", "V, split into heads", "x W_V, same split", "(B, H, T, d_k)"),
    ("weights", "weights", "softmax(Q Kᵀ / √d_k), every head at once", "(B, H, T, T)"),
    ("heads_out", "heads' outputs", "weights · V", "(B, H, T, d_k)"),
    ("concat", "concatenation", "transpose(1, 2) → reshape", "(B, T, H·d_k)"),
    ("out", "output", "concat · W_O  (W_O: d_model × d_model)", "(B, T, d_model)"),
)


def shape_rows(shapes: dict[str, Sequence[int]]) -> list[dict[str, str]]:
    """Table rows (step, operation, symbolic shape, actual shape) for the tensors of one multi-head call.

    shapes: {"x", "q", "k", "v", "weights", "heads_out", "concat", "out"} -> the live tensors' shapes.
    """
    return [{"step": step, "operation": op, "shape": symbolic, "here": str(tuple(shapes[name]))}
            for name, step, op, symbolic in SHAPE_STEPS]
