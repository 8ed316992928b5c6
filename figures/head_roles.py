"""What each head does: one cell per (layer, head), coloured by its strongest role's score."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from core.head_roles import ROLES, HeadRoles
from figures.heatmap import heatmap
from figures.multihead import head_labels

SHORT_NAMES: dict[str, str] = {
    "previous-token": "prev",
    "first-token": "first",
    "current-token": "self",
    "duplicate-token": "dup",
    "induction": "ind",
}


def layer_labels(n_layers: int) -> list[str]:
    return [f"layer {layer}" for layer in range(n_layers)]


def role_cell_text(role: str, score: float) -> str:
    """A cell's label: short role name and score, e.g. "prev 0.92"."""
    return f"{SHORT_NAMES[role]} {score:.2f}"


def role_hover(roles: HeadRoles, layer: int, head: int) -> str:
    """Every role's score and the entropy of one head, one per line (an undefined score reads "n/a")."""
    lines = [f"layer {layer}, head {head}"]
    for role in ROLES:
        score = float(roles.scores[role][layer, head])
        lines.append(f"{role}: " + ("n/a (no sentence repeats a token)" if math.isnan(score) else f"{score:.3f}"))
    lines.append(f"entropy: {float(roles.entropy[layer, head]):.3f} nats")
    return "<br>".join(lines)


def head_role_grid(roles: HeadRoles, *, title: str | None = None) -> go.Figure:
    """Layers (rows, layer 0 on top) × heads (columns): colour = the strongest role's score (0–1), text = that role's
    short name and score, hover = every role's score and the head's mean entropy."""
    strongest = roles.strongest()  # [layer][head] -> (role, score)
    n_layers, n_heads = roles.shape
    z = [[score for _, score in row] for row in strongest]
    title = title or (
        f"What each head does: its strongest role ({roles.n_sentences} sentences, {roles.n_induction} repeated "
        "sequences)"
    )
    fig = heatmap(
        z,
        head_labels(n_heads),
        layer_labels(n_layers),
        title,
        colorbar_title="role score",
        x_title="head",
        y_title="layer",
        zmin=0.0,
        zmax=1.0,
        height=max(300, 120 + 60 * n_layers),
    )
    trace = fig.data[0]
    trace.text = [[role_cell_text(role, score) for role, score in row] for row in strongest]
    trace.texttemplate = "%{text}"
    # hovertext, not customdata: the data export reads a heatmap's customdata as numbers shown in the hover
    trace.hovertext = [[role_hover(roles, layer, head) for head in range(n_heads)] for layer in range(n_layers)]
    trace.hovertemplate = "%{hovertext}<extra></extra>"
    fig.layout.xaxis.tickangle = 0
    return fig
