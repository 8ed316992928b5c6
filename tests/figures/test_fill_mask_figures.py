"""The [MASK] attention figure carries the (L, H, T) rows it is given, one heatmap row per layer · head."""

from __future__ import annotations

import numpy as np

from figures.fill_mask import mask_attention_figure


def test_rows_are_layer_major_and_the_mask_column_is_outlined():
    rows = np.random.default_rng(0).dirichlet(np.ones(5), size=(3, 2))  # (L=3, H=2, T=5), rows sum to 1
    fig = mask_attention_figure(rows, ["[CLS]", "a", "[MASK]", "b", "[SEP]"], 2)
    (trace,) = fig.data
    np.testing.assert_array_equal(np.asarray(trace.z), rows.reshape(6, 5))
    assert (trace.zmin, trace.zmax) == (0.0, rows.max())
    assert list(trace.y) == [f"layer {layer} · head {head}" for layer in range(3) for head in range(2)]
    assert list(trace.x) == ["0·[CLS]", "1·a", "2·[MASK]", "3·b", "4·[SEP]"]
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert (rect.x0, rect.x1) == (1.5, 2.5)
    assert sorted(s.y0 for s in fig.layout.shapes if s.type == "line") == [1.5, 3.5]
