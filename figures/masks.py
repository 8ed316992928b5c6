"""Figures for the masks page: a gallery of masks as small multiples."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from figures.heatmap import as_numpy, heatmap_grid
from figures.small_multiples import first_column_labels_only


def mask_gallery_figure(masks, names: Sequence[str], labels: Sequence[str]) -> go.Figure:
    """Small multiples of masks ``(M, L, L)`` (1 = may attend, 0 = masked) in one row, one 0–1 colour scale.

    Query labels are shown on the first panel only: in one row they would cover the neighbouring panel.
    """
    m = as_numpy(masks)
    if m.shape[0] != len(names):
        raise ValueError(f"{m.shape[0]} masks but {len(names)} names")
    fig = heatmap_grid(m, labels, labels, [n.replace("_", " ") for n in names],
                       "Mask gallery (1 = the query may attend to the key)", cols=len(names),
                       colorbar_title="may attend")
    return first_column_labels_only(fig, len(names), len(names))
