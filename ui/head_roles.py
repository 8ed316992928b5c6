"""Head-role scores of the shipped English models (and their untrained twins), computed once per process."""

from __future__ import annotations

import streamlit as st

from core.head_roles import HeadRoles
from core.lab.text_head_roles import text_model_head_roles
from ui.text_models import load_text, load_untrained

N_SENTENCES = 32
BIG_MODEL_PARAMETERS = 20_000_000


@st.cache_data(show_spinner=f"Scoring every head on {N_SENTENCES} held-out sentences and repeated random tokens…")
def head_roles(name: str, device: str = "cpu", untrained_seed: int | None = None) -> HeadRoles:
    """core.lab.text_head_roles.text_model_head_roles of a shipped English model (or its untrained twin)."""
    tm = load_text(name, device) if untrained_seed is None else load_untrained(name, untrained_seed, device)
    big = tm.card.get("n_parameters", 0) > BIG_MODEL_PARAMETERS  # a GPT-2-sized checkpoint: fewer, so it stays quick
    return text_model_head_roles(tm, n_sentences=N_SENTENCES // 4 if big else N_SENTENCES,
                                 n_induction=4 if big else 8)  # fmt: skip


def roles_caption(roles: HeadRoles) -> str:
    """What the grid was measured on."""
    return (f"Scores: mean attention weight on the key each role looks at, averaged over {roles.n_sentences} held-out "
            f"sentences (duplicate-token over the {roles.n_duplicate_sentences} with a repeated token) and, for "
            f"induction, {roles.n_induction} sequences of random tokens repeated twice. A head that spread its weight "
            "evenly would score about 1/(number of keys) on every role. Computed by core.head_roles.")
