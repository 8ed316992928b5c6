"""figures.head_roles: the grid carries exactly the HeadRoles numbers, in layer-major order, with its titles."""

from __future__ import annotations

import numpy as np
import torch

from core.head_roles import ROLES, HeadRoles
from figures.export import figure_data_frame
from figures.head_roles import head_role_grid

NAN = float("nan")


def roles_2x3() -> HeadRoles:
    """Two layers × three heads; every role wins somewhere, duplicate-token undefined in layer 1 head 2."""
    scores = {
        "previous-token": torch.tensor([[0.92, 0.10, 0.20], [0.05, 0.30, 0.11]]),
        "first-token": torch.tensor([[0.03, 0.81, 0.20], [0.05, 0.10, 0.12]]),
        "current-token": torch.tensor([[0.01, 0.02, 0.55], [0.05, 0.10, 0.13]]),
        "duplicate-token": torch.tensor([[0.02, 0.03, 0.04], [0.66, 0.20, NAN]]),
        "induction": torch.tensor([[0.01, 0.02, 0.03], [0.04, 0.47, 0.14]]),
    }
    entropy = torch.tensor([[0.25, 0.5, 0.75], [1.0, 1.25, 1.5]])
    return HeadRoles(scores, entropy, n_sentences=4, n_duplicate_sentences=0, n_induction=2)


def test_grid_colours_and_labels_each_head_by_its_strongest_role():
    roles = roles_2x3()
    trace = head_role_grid(roles).data[0]
    expected_z = [[0.92, 0.81, 0.55], [0.66, 0.47, 0.14]]
    np.testing.assert_allclose(np.asarray(trace.z, dtype=float), expected_z, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(trace.z, dtype=float), [[s for _, s in row] for row in roles.strongest()], rtol=0
    )
    assert [list(row) for row in trace.text] == [
        ["prev 0.92", "first 0.81", "self 0.55"],
        ["dup 0.66", "ind 0.47", "ind 0.14"],
    ]
    assert list(trace.x) == ["head 0", "head 1", "head 2"] and list(trace.y) == ["layer 0", "layer 1"]
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)


def test_hover_lists_every_role_and_the_entropy_of_its_own_head():
    roles = roles_2x3()
    trace = head_role_grid(roles).data[0]
    assert "%{hovertext}" in trace.hovertemplate
    for layer in range(2):
        for head in range(3):
            lines = trace.hovertext[layer][head].split("<br>")
            assert lines[0] == f"layer {layer}, head {head}"
            for role, line in zip(ROLES, lines[1:6], strict=True):
                score = float(roles.scores[role][layer, head])
                assert line == f"{role}: " + (
                    "n/a (no sentence repeats a token)" if np.isnan(score) else f"{score:.3f}"
                )
            assert lines[6] == f"entropy: {float(roles.entropy[layer, head]):.3f} nats"
    assert "duplicate-token: n/a" in trace.hovertext[1][2]


def test_grid_titles_and_data_export():
    fig = head_role_grid(roles_2x3())
    assert fig.layout.xaxis.title.text == "head" and fig.layout.yaxis.title.text == "layer"
    assert "4 sentences" in fig.layout.title.text and "2 repeated" in fig.layout.title.text
    assert head_role_grid(roles_2x3(), title="mine").layout.title.text == "mine"
    frame = figure_data_frame(fig)  # the CSV export reads the colours, not the hover strings
    assert list(frame["value"].round(6)) == [0.92, 0.81, 0.55, 0.66, 0.47, 0.14]
    assert "hover_value" not in frame
