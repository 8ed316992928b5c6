"""Figures for the masks page: a gallery of masks above the weights they produce."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.heatmap import as_numpy, heatmap_grid


def mask_gallery_figure(masks, weights, names: Sequence[str], labels: Sequence[str]) -> go.Figure:
    """Small multiples: row 1 the masks (1 = may attend, 0 = masked), row 2 the softmax weights under each mask.

    masks, weights: ``(M, L, L)``; names: M panel names; labels: L token labels. One shared 0–1 colour scale.
    """
    m, w = as_numpy(masks), as_numpy(weights)
    if m.shape != w.shape or m.shape[0] != len(names):
        raise ValueError(f"masks {m.shape} and weights {w.shape} must match, with {len(names)} names")
    stack = np.concatenate([m, w])  # (2M, L, L)
    titles = [f"{n}: mask" for n in names] + [f"{n}: weights" for n in names]
    fig = heatmap_grid(stack, labels, labels, titles, "Masks (top, 1 = may attend) and the weights they produce "
                       "(bottom), same q, k, v", cols=len(names), colorbar_title="mask / weight")
    fig.layout.height = 560
    return fig
