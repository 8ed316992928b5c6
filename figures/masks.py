"""Figures for the masks page: a gallery of masks as small multiples."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from figures.heatmap import GridPanel, as_numpy, panels_figure
from figures.small_multiples import bottom_row_labels_only, first_column_labels_only

GALLERY_COLS = 3  # panels per row: six in one row squeeze the titles together
CROSS_LABEL_GAP = 0.08  # paper width cleared left of the cross panel for its own (target) query labels


def mask_gallery_figure(
    masks, names: Sequence[str], labels: Sequence[str], *, cross=None, source_labels: Sequence[str] = (),
    target_labels: Sequence[str] = (),
) -> go.Figure:
    """Small multiples of masks ``(M, L, L)`` (1 = may attend, 0 = masked), three to a row, one 0–1 colour scale.

    cross: a cross-attention mask ``(L_target, L_source)``, drawn last (``names`` then has M + 1 entries) with target
    query positions (``target_labels``) as rows and source key positions (``source_labels``) as columns.
    Query labels are shown on the first panel of each row only, as they would cover the neighbouring panel, and on
    the cross panel, whose queries differ: a wider gap keeps them off the panel to its left. Key labels: bottom row.
    """
    m = as_numpy(masks)
    if m.shape[0] + (cross is not None) != len(names):
        raise ValueError(f"{m.shape[0]} masks{' and a cross mask' if cross is not None else ''} but {len(names)} names")
    titles = [n.replace("_", " ") for n in names]
    panels = [GridPanel(m[p], labels, labels, titles[p]) for p in range(m.shape[0])]
    if cross is not None:
        panels.append(GridPanel(as_numpy(cross), source_labels, target_labels, titles[-1], x_title="source key",
                                y_title="target query"))
    fig = panels_figure(panels, "Mask gallery (1 = the query may attend to the key)", zmin=0.0, zmax=1.0,
                        cols=GALLERY_COLS, colorbar_title="may attend", value_name="may attend")
    fig = bottom_row_labels_only(first_column_labels_only(fig, len(panels), GALLERY_COLS), len(panels), GALLERY_COLS)
    if cross is not None:
        if (len(panels) - 1) % GALLERY_COLS:  # a panel to its left: make room for the cross panel's own labels
            axis = fig.layout[f"xaxis{len(panels)}"]
            axis.domain = (axis.domain[0] + CROSS_LABEL_GAP, axis.domain[1])
            fig.layout.annotations[-1].x += CROSS_LABEL_GAP / 2  # its title stays centred over it
        fig.layout[f"yaxis{len(panels)}"].showticklabels = len(target_labels) <= 12
    return fig
