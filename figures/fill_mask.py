"""Fill-in-the-blank figures: where a [MASK] looks in every layer and head (one heatmap row per layer · head)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from figures.heatmap import as_numpy, heatmap, position_labels


def mask_attention_figure(rows, tokens: Sequence[str], position: int, title: str | None = None) -> go.Figure:
    """rows ``(L, H, T)`` (:func:`core.lab.fill_mask.mask_attention`) -> a heatmap with one row per (layer, head),
    layer 0 at the top, keys along x; thin lines separate the layers; colours run from 0 to the largest weight shown.
    ``position``: the [MASK]'s index (its key column is outlined)."""
    values = as_numpy(rows)  # (L, H, T)
    n_layers, n_heads, n_keys = values.shape
    y = [f"layer {layer} · head {head}" for layer in range(n_layers) for head in range(n_heads)]
    between = [{"type": "line", "x0": -0.5, "x1": n_keys - 0.5, "y0": layer * n_heads - 0.5,
                "y1": layer * n_heads - 0.5, "line": {"color": "white", "width": 3}}
               for layer in range(1, n_layers)]  # fmt: skip
    column = {"type": "rect", "x0": position - 0.5, "x1": position + 0.5, "y0": -0.5, "y1": n_layers * n_heads - 0.5,
              "line": {"color": "#ff7f0e", "width": 2}}  # fmt: skip
    title = title or f"Where the [MASK] at position {position} looks, in every layer · head"
    z = values.reshape(n_layers * n_heads, n_keys)  # (L·H, T): row l·H + h is layer l, head h
    return heatmap(z, position_labels(tokens), y, title, y_title="layer · head", x_title="key", zmin=0.0,
                   zmax=float(z.max()), shapes=[*between, column])
