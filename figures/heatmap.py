"""The one heatmap builder every attention map goes through: token labels, a title, a colour bar, exact hovers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
) -> go.Figure:
    """A labelled heatmap of a (rows, cols) matrix, row 0 at the top (as matrices are written).

    z: (len(y_labels), len(x_labels)). Masked entries may be NaN or -inf: they show as gaps.
    """
    values = as_numpy(z)
    if values.shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"z has shape {values.shape}, labels give {(len(y_labels), len(x_labels))}")
    values = np.where(np.isfinite(values), values, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(x_labels),
            y=list(y_labels),
            zmin=zmin,
            zmax=zmax,
            colorscale=colorscale,
            colorbar={"title": {"text": colorbar_title}},
            hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{colorbar_title} %{{z:.4f}}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title},
        xaxis={"title": {"text": x_title}, "type": "category", "tickangle": -45},
        yaxis={"title": {"text": y_title}, "type": "category", "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=height or max(300, min(700, 120 + 28 * len(y_labels))),
    )
    return fig


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
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(panel_titles),
                        horizontal_spacing=0.03, vertical_spacing=0.08 if rows > 1 else 0.1)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    for p in range(n_panels):
        panel = values[p]
        zmin, zmax = (lo, hi) if shared_scale else (float(np.nanmin(panel)), float(np.nanmax(panel)))
        fig.add_trace(
            go.Heatmap(
                z=panel, x=list(x_labels), y=list(y_labels), zmin=zmin, zmax=zmax, colorscale=colorscale,
                showscale=(p == 0) if shared_scale else False, coloraxis=None,
                colorbar={"title": {"text": colorbar_title}},
                hovertemplate=f"{panel_titles[p]}<br>query %{{y}}<br>key %{{x}}<br>{colorbar_title} %{{z:.4f}}<extra></extra>",
            ),
            row=p // cols + 1, col=p % cols + 1,
        )
    fig.update_xaxes(type="category", showticklabels=len(x_labels) <= 12, tickangle=-45)
    fig.update_yaxes(type="category", autorange="reversed", showticklabels=len(y_labels) <= 12)
    scale_note = "shared colour scale" if shared_scale else "each panel on its own colour scale"
    fig.update_layout(title={"text": f"{title} ({scale_note})"}, height=260 * rows + 60,
                      margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
