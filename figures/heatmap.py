"""The one heatmap builder every attention map goes through: token labels, a title, a colour bar, exact hovers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

WEIGHT_SCALE = "Blues"
DIVERGING_SCALE = "RdBu_r"


def position_labels(tokens: Sequence[str]) -> list[str]:
    """Unique axis labels 'i·token' (Plotly merges equal category labels, and tokens repeat)."""
    return [f"{i}·{tok}" for i, tok in enumerate(tokens)]


def as_numpy(z) -> np.ndarray:
    """Accept torch tensors or arrays; detach to a float64 numpy array for plotting."""
    if hasattr(z, "detach"):
        z = z.detach().to("cpu").double().numpy()
    return np.asarray(z, dtype=float)


def heatmap(
    z,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    title: str,
    *,
    colorbar_title: str = "weight",
    x_title: str = "key",
    y_title: str = "query",
    zmin: float | None = None,
    zmax: float | None = None,
    colorscale: str = WEIGHT_SCALE,
    height: int | None = None,
    shapes: Sequence[dict] = (),
) -> go.Figure:
    """A labelled heatmap of a (rows, cols) matrix, row 0 at the top (as matrices are written).

    z: (len(y_labels), len(x_labels)). Masked entries may be NaN or -inf: they show as gaps. shapes: Plotly layout
    shapes drawn over the map (e.g. tile outlines), in data coordinates (column j spans x = j − 0.5 … j + 0.5).
    """
    values = as_numpy(z)
    if values.shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"z has shape {values.shape}, labels give {(len(y_labels), len(x_labels))}")
    values = np.where(np.isfinite(values), values, np.nan)
    trace = {
        "type": "heatmap", "z": values, "x": list(x_labels), "y": list(y_labels), "zmin": zmin, "zmax": zmax,
        "colorscale": colorscale, "colorbar": {"title": {"text": colorbar_title}},
        "hovertemplate": f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{colorbar_title} %{{z:.4f}}<extra></extra>",
    }
    layout = {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}, "type": "category", "tickangle": -45},
        "yaxis": {"title": {"text": y_title}, "type": "category", "autorange": "reversed"},
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "height": height or max(300, min(700, 120 + 28 * len(y_labels))),
        "shapes": list(shapes),
    }
    return go.Figure(data=[trace], layout=layout)


def grid_axes(n_panels: int, cols: int, *, h_gap: float = 0.03, v_gap: float | None = None) -> dict:
    """Layout axes of ``n_panels`` small multiples in a grid, row 0 at the top (what ``make_subplots`` would build,
    without its slow update path): panel p uses ``xaxis{p+1}``/``yaxis{p+1}`` (``xaxis``/``yaxis`` for p = 0).

    Returns {"xaxis": {...}, "yaxis": {...}, "xaxis2": ..., ...} with domains and anchors.
    """
    rows = -(-n_panels // cols)
    v_gap = (0.08 if rows > 1 else 0.1) if v_gap is None else v_gap
    width = (1 - h_gap * (cols - 1)) / cols
    height = (1 - v_gap * (rows - 1)) / rows
    axes = {}
    for p in range(n_panels):
        row, col = divmod(p, cols)
        left, top = col * (width + h_gap), 1 - row * (height + v_gap)
        suffix = "" if p == 0 else str(p + 1)
        axes[f"xaxis{suffix}"] = {"domain": [left, left + width], "anchor": f"y{suffix}"}
        axes[f"yaxis{suffix}"] = {"domain": [max(0.0, top - height), top], "anchor": f"x{suffix}"}
    return axes


def panel_title_annotations(panel_titles: Sequence[str], axes: dict) -> list[dict]:
    """One centred title above each panel of :func:`grid_axes` (what make_subplots' subplot_titles draw)."""
    out = []
    for p, text in enumerate(panel_titles):
        suffix = "" if p == 0 else str(p + 1)
        x0, x1 = axes[f"xaxis{suffix}"]["domain"]
        out.append({"text": text, "x": (x0 + x1) / 2, "y": axes[f"yaxis{suffix}"]["domain"][1], "xref": "paper",
                    "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                    "font": {"size": 14}})
    return out


def heatmap_grid(
    stack,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    panel_titles: Sequence[str],
    title: str,
    *,
    shared_scale: bool = True,
    cols: int = 4,
    colorbar_title: str = "weight",
    colorscale: str = WEIGHT_SCALE,
) -> go.Figure:
    """Small multiples of (P, rows, cols) maps, e.g. one panel per head.

    shared_scale: one colour range for all panels (comparable colours) or each panel scaled to its own range.
    """
    values = as_numpy(stack)
    n_panels = values.shape[0]
    cols = max(1, min(cols, n_panels))
    rows = -(-n_panels // cols)
    axes = grid_axes(n_panels, cols)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    traces = []
    for p in range(n_panels):
        panel = values[p]
        zmin, zmax = (lo, hi) if shared_scale else (float(np.nanmin(panel)), float(np.nanmax(panel)))
        suffix = "" if p == 0 else str(p + 1)
        traces.append({
            "type": "heatmap", "z": panel, "x": list(x_labels), "y": list(y_labels), "zmin": zmin, "zmax": zmax,
            "colorscale": colorscale, "showscale": (p == 0) if shared_scale else False,
            "colorbar": {"title": {"text": colorbar_title}}, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
            "hovertemplate": f"{panel_titles[p]}<br>query %{{y}}<br>key %{{x}}<br>{colorbar_title} %{{z:.4f}}"
                             "<extra></extra>",
        })
    for name, axis in axes.items():
        labels = x_labels if name.startswith("x") else y_labels
        axis.update({"type": "category", "showticklabels": len(labels) <= 12})
        axis.update({"tickangle": -45} if name.startswith("x") else {"autorange": "reversed"})
    scale_note = "shared colour scale" if shared_scale else "each panel on its own colour scale"
    layout = {**axes, "annotations": panel_title_annotations(panel_titles, axes),
              "title": {"text": f"{title} ({scale_note})"}, "height": 260 * rows + 60,
              "margin": {"l": 10, "r": 10, "t": 70, "b": 10}}
    return go.Figure(data=traces, layout=layout)
