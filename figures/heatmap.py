"""The one heatmap builder every attention map goes through: token labels, a title, a colour bar, exact hovers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from _plotly_utils.basevalidators import ColorscaleValidator

WEIGHT_SCALE = "Blues"
DIVERGING_SCALE = "RdBu_r"
_COLORSCALE = ColorscaleValidator("colorscale", "heatmap")  # Plotly's own: "RdBu_r" -> the reversed list


def unvalidated_figure(traces: list[dict], layout: dict) -> go.Figure:
    """``go.Figure(data=traces, layout=layout)`` without Plotly's property-by-property validation, which takes half the
    time of building a figure or more (a 16-panel grid: ~28 ms validated, ~14 ms not). Only for the fixed trace and
    layout shapes built with it in ``figures/`` (this module's maps, the step-by-step page's bar charts): colour
    scale names are resolved here as validation would, magic underscores (``marker_color``) are not expanded, and
    tests/figures/test_unvalidated_figures.py rebuilds every one with validation and requires the same JSON."""
    for trace in traces:
        if isinstance(trace.get("colorscale"), str):
            trace["colorscale"] = _COLORSCALE.validate_coerce(trace["colorscale"])
    return go.Figure(data=traces, layout=layout, _validate=False)


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
    }
    if shapes:
        layout["shapes"] = list(shapes)
    return unvalidated_figure([trace], layout)


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


@dataclass(frozen=True)
class GridPanel:
    """One panel of :func:`panels_figure`: a ``(rows, cols)`` map with its own axis labels, so panels may differ in
    shape (e.g. a cross-attention mask ``(L_target, L_source)`` next to square self-attention masks).

    hover_values: the numbers the hover shows when ``z`` is a rescaled copy of them (same shape); None: ``z`` itself.
    """

    z: np.ndarray
    x_labels: Sequence[str]
    y_labels: Sequence[str]
    title: str
    x_title: str = "key"
    y_title: str = "query"
    hover_values: np.ndarray | None = None


def panel_trace(panel: GridPanel, p: int, *, zmin: float, zmax: float, colorscale: str, colorbar_title: str,
                value_name: str) -> dict:
    """Panel ``p``'s heatmap trace on axes ``x{p+1}``/``y{p+1}``; only panel 0 draws the (shared) colour bar.

    Hover: the panel, its query and key labels, and the value: ``z`` as ``colorbar_title``, or, when the panel has
    ``hover_values``, those as ``value_name`` followed by ``z`` as ``colorbar_title``.
    """
    suffix = "" if p == 0 else str(p + 1)
    value = (f"{colorbar_title} %{{z:.4f}}" if panel.hover_values is None
             else f"{value_name} %{{customdata:.4f}}<br>{colorbar_title} %{{z:.3f}}")
    return {
        "type": "heatmap", "z": panel.z, "x": list(panel.x_labels), "y": list(panel.y_labels), "zmin": zmin,
        "zmax": zmax, "colorscale": colorscale, "showscale": p == 0, "colorbar": {"title": {"text": colorbar_title}},
        "customdata": panel.hover_values, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
        "hovertemplate": f"{panel.title}<br>{panel.y_title} %{{y}}<br>{panel.x_title} %{{x}}<br>{value}<extra></extra>",
    }


def panels_figure(
    panels: Sequence[GridPanel],
    title: str,
    *,
    zmin: float,
    zmax: float,
    cols: int = 4,
    colorbar_title: str = "weight",
    value_name: str = "weight",
    colorscale: str = WEIGHT_SCALE,
) -> go.Figure:
    """Small multiples of ``panels`` in a grid, row 0 at the top, all on one colour range zmin…zmax, so the one colour
    bar (``colorbar_title``) is true for every panel. Tick labels only where a panel has at most 12 of them."""
    cols = max(1, min(cols, len(panels)))
    rows = -(-len(panels) // cols)
    ticks_below = rows > 1 and any(len(panel.x_labels) <= 12 for panel in panels)
    # rotated key labels under a panel need ~90 px before the next row's panel titles (of 260 px a row)
    axes = grid_axes(len(panels), cols, v_gap=90 / (260 * rows) if ticks_below else None)
    traces = [panel_trace(panel, p, zmin=zmin, zmax=zmax, colorscale=colorscale, colorbar_title=colorbar_title,
                          value_name=value_name) for p, panel in enumerate(panels)]
    for p, panel in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        axes[f"xaxis{suffix}"].update({"type": "category", "showticklabels": len(panel.x_labels) <= 12,
                                       "tickangle": -45})
        axes[f"yaxis{suffix}"].update({"type": "category", "showticklabels": len(panel.y_labels) <= 12,
                                       "autorange": "reversed"})
    layout = {**axes, "annotations": panel_title_annotations([panel.title for panel in panels], axes),
              "title": {"text": title}, "height": 260 * rows + 60, "margin": {"l": 10, "r": 10, "t": 70, "b": 10}}
    return unvalidated_figure(traces, layout)


def scaled_by_panel_peak(stack: np.ndarray) -> np.ndarray:
    """Each panel of ``(P, rows, cols)`` divided by its own largest finite |value| (a panel of zeros stays as is):
    in [0, 1] for non-negative maps such as attention weights, in [−1, 1] otherwise."""
    peak = np.where(np.isfinite(stack), np.abs(stack), 0.0).max(axis=(1, 2), keepdims=True)  # (P, 1, 1)
    return stack / np.where(peak > 0, peak, 1.0)


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
    panel_name: str = "panel",
) -> go.Figure:
    """Small multiples of (P, rows, cols) maps, e.g. one panel per head, with one colour bar true for every panel.

    shared_scale=True: one colour range, the stack's min…max (colours comparable across panels).
    shared_scale=False: panel p shows z_p / max|z_p| (:func:`scaled_by_panel_peak`), so each panel uses the whole
    colour range and the colour bar reads "<colorbar_title> ÷ <panel_name> max"; the hover still shows z_p itself.
    """
    values = as_numpy(stack)  # (P, rows, cols)
    if shared_scale:
        shown, hover, bar = values, None, colorbar_title
        zmin, zmax = float(np.nanmin(values)), float(np.nanmax(values))
        note = "shared colour scale"
    else:
        shown, hover = scaled_by_panel_peak(values), values
        signed = bool((shown < 0).any())
        bar = f"{colorbar_title} ÷ {panel_name} max" + (" |value|" if signed else "")
        zmin, zmax = (-1.0 if signed else 0.0), 1.0
        note = f"each {panel_name} ÷ its own max"
    panels = [GridPanel(shown[p], x_labels, y_labels, panel_titles[p], hover_values=None if hover is None else hover[p])
              for p in range(values.shape[0])]
    return panels_figure(panels, f"{title} ({note})", zmin=zmin, zmax=zmax, cols=cols, colorbar_title=bar,
                         value_name=colorbar_title, colorscale=colorscale)
