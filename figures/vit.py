"""Figures for the Vision Transformer: the image with its patch grid, the patches as a token sequence, and for the
digits ViT: class probabilities and maps over the patch grid.

Each image figure also carries a heatmap trace (patch indices, or attention weights) on the pixel grid: hovering
shows which patch / weight is under the pointer, and the export panel has a heatmap to draw.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import GridPanel, as_numpy, panels_figure, scaled_by_panel_peak
from figures.layout import MARGIN
from figures.small_multiples import bottom_row_labels_only, first_column_labels_only

GRID_COLOUR = "rgba(255, 255, 255, 0.9)"


def to_uint8(image) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] or uint8 -> uint8 RGB."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)


def _image_layout(title: str, height: int) -> dict:
    hidden = {"showticklabels": False, "showgrid": False, "zeroline": False}
    return {"title": {"text": title}, "height": height, "margin": MARGIN, "xaxis": dict(hidden),
            "yaxis": {**hidden, "scaleanchor": "x", "autorange": "reversed"}}


def _patch_index_layer(rows: int, cols: int, patch: int, labels: np.ndarray | None = None) -> go.Heatmap:
    """An invisible heatmap over the patch grid: hover says 'patch k (row r, col c)'."""
    index = np.arange(rows * cols).reshape(rows, cols) if labels is None else labels
    centres_x = ((np.arange(cols) + 0.5) * patch).tolist()  # lists, not arrays: the export reads them as labels
    centres_y = ((np.arange(rows) + 0.5) * patch).tolist()
    return go.Heatmap(z=index, x=centres_x, y=centres_y, opacity=0.0, showscale=False, colorscale="Greys",
                      colorbar={"title": {"text": "patch index"}},
                      hovertemplate="patch p%{z}<extra></extra>")


def image_with_grid(image, patch: int, title: str) -> go.Figure:
    """The image with the patch grid drawn on it; hover shows each patch's index in raster order."""
    pixels = to_uint8(image)
    height, width = pixels.shape[:2]
    rows, cols = height // patch, width // patch
    lines = [{"type": "line", "x0": c * patch - 0.5, "x1": c * patch - 0.5, "y0": -0.5, "y1": height - 0.5}
             for c in range(1, cols)]
    lines += [{"type": "line", "y0": r * patch - 0.5, "y1": r * patch - 0.5, "x0": -0.5, "x1": width - 0.5}
              for r in range(1, rows)]
    for line in lines:
        line["line"] = {"color": GRID_COLOUR, "width": 1.5}
    layout = _image_layout(title, 430)
    layout["shapes"] = lines
    return go.Figure(data=[go.Image(z=pixels, hoverinfo="skip"), _patch_index_layer(rows, cols, patch)],
                     layout=layout)


def patch_strip(image, patch: int, per_row: int = 9, gap: int = 2) -> go.Figure:
    """The patches laid out one after another in sequence order (raster order), ``per_row`` per line, with gaps,
    so the grid reads as the token sequence the transformer sees."""
    pixels = to_uint8(image)
    rows, cols = pixels.shape[0] // patch, pixels.shape[1] // patch
    n = rows * cols
    per_row = max(1, min(per_row, n))
    lines = -(-n // per_row)
    step = patch + gap
    canvas = np.full((lines * step - gap, per_row * step - gap, 3), 200, dtype=np.uint8)  # grey gaps
    labels = np.full((lines, per_row), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)  # where patch k sits in the image
        line, slot = divmod(k, per_row)  # where it sits in the sequence
        canvas[line * step : line * step + patch, slot * step : slot * step + patch] = pixels[
            r * patch : (r + 1) * patch, c * patch : (c + 1) * patch
        ]
        labels[line, slot] = k
    index_layer = _patch_index_layer(lines, per_row, step, labels)
    layout = _image_layout(f"{n} patch tokens in sequence order", max(160, min(520, 90 + 60 * lines)))
    traces = [go.Image(z=canvas, hoverinfo="skip"), index_layer]
    if n <= 48:  # label each patch with its position in the sequence (a text trace: far cheaper than annotations)
        traces.append(go.Scatter(
            x=[(k % per_row) * step for k in range(n)], y=[(k // per_row) * step for k in range(n)],
            text=[f"p{k}" for k in range(n)], mode="text", textposition="bottom right", hoverinfo="skip",
            textfont={"size": 10, "color": "white", "shadow": "0px 0px 3px black"}, showlegend=False,
        ))
    return go.Figure(data=traces, layout=layout)


# ---------------------------------------------------------------------------------------------- digits
def digit_to_rgb(digit, max_value: float = 16.0, *, scale: int = 1) -> np.ndarray:
    """An ``(H, W)`` digit in 0..max_value (16 = full ink) -> ``(H·scale, W·scale, 3)`` float RGB, dark ink on white
    paper; each pixel drawn as a scale × scale block (an 8×8 image is too small to label its patches)."""
    paper = 1.0 - np.clip(as_numpy(digit) / max_value, 0.0, 1.0)  # (H, W): 1 = white
    big = np.kron(paper, np.ones((scale, scale)))  # (H·scale, W·scale)
    return np.repeat(big[..., None], 3, axis=-1)


def class_probability_bars(probabilities, title: str, *, label: int | None = None) -> go.Figure:
    """Bars of the class probabilities ``(n_classes,)``; the true class (when known) in another colour."""
    p = as_numpy(probabilities)
    colours = ["#d62728" if k == label else "#1f77b4" for k in range(len(p))]
    classes = [str(k) for k in range(len(p))]
    bars = go.Bar(x=classes, y=p, marker={"color": colours}, hovertemplate="class %{x}: %{y:.4f}<extra></extra>")
    layout = {"title": {"text": title}, "height": 360, "margin": MARGIN, "yaxis": {"range": [0, 1.02],
              "title": {"text": "probability"}}, "xaxis": {"type": "category", "title": {"text": "class"}}}
    return go.Figure(data=[bars], layout=layout)


def patch_grid_panels(stack, panel_titles, title: str, *, shared_scale: bool = True, cols: int = 4) -> go.Figure:
    """Small multiples of maps over the patch grid, ``(P, rows, cols)`` (e.g. [CLS]'s weight on each patch, one
    panel per layer and head), rows top to bottom as in the image. shared_scale=False: each panel divided by its own
    max (the hover and the export still carry the weights themselves)."""
    values = as_numpy(stack)  # (P, rows, cols)
    shown = values if shared_scale else scaled_by_panel_peak(values)
    rows, columns = values.shape[1:]
    x_labels, y_labels = [f"col {c}" for c in range(columns)], [f"row {r}" for r in range(rows)]
    panels = [GridPanel(shown[p], x_labels, y_labels, panel_titles[p], x_title="patch", y_title="patch",
                        hover_values=None if shared_scale else values[p]) for p in range(len(values))]
    if shared_scale:
        fig = panels_figure(panels, f"{title} (shared colour scale)", zmin=float(values.min()),
                            zmax=float(values.max()), cols=cols)
    else:
        fig = panels_figure(panels, f"{title} (each panel ÷ its own max)", zmin=0.0, zmax=1.0, cols=cols,
                            colorbar_title="weight ÷ panel max")
    cols = min(cols, len(panels))
    for note in fig.layout.annotations:
        note.font.size = 12
    if any("<br>" in t for t in panel_titles):  # two-line panel titles need room under the figure title
        fig.layout.margin.t = 100
    return bottom_row_labels_only(first_column_labels_only(fig, len(panels), cols), len(panels), cols)
