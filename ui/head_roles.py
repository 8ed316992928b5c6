"""Head-role scores of the shipped English models (and their untrained twins), computed once per process."""

from __future__ import annotations

import streamlit as st

from core.head_roles import HeadRoles
from core.lab.text_head_roles import text_model_head_roles
from course.markdown_text import escape_markdown
from figures.attention_steps import token_labels
from figures.export import AttentionExport
from figures.head_roles import head_role_grid
from figures.multihead import heads_figure
from ui.charts import show_figure
from ui.figure_memo import memo_figure
from ui.inputs import EnglishBox, pick_input
from ui.settings import Settings
from ui.text_models import about_text_model, load_text, load_untrained, text_forward, weights_label

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


def show_layer_heads_and_roles(slug: str, settings: Settings) -> None:
    """The multi-head page's first section: every head of one layer of a trained English model on the learner's sentence, and what each head
    of the model does (head-role scores), trained or untrained."""
    e1, e2 = st.columns(2)
    picked = pick_input(slug, sentence=None, english=EnglishBox(untrained=True), where=e1, text_at=st,
                        device=str(settings.device), seed=settings.seed)  # fmt: skip
    if picked.problem is not None:  # say it here; the sections below still run
        st.warning(picked.problem)
        return
    name, seed, device = picked.english, picked.untrained_seed, str(settings.device)
    if picked.encoded.cut_message:
        st.info(picked.encoded.cut_message)
    fwd = text_forward(name, picked.encoded.ids, device, seed)
    n_layers, n_heads_trained = fwd.attention.shape[:2]
    layer = e2.selectbox("Layer", list(range(n_layers)), key=f"{slug}_english_layer")
    labels = token_labels(list(picked.encoded.tokens))
    state = "trained" if seed is None else "untrained"
    st.caption(escape_markdown(f"Weights: {weights_label(name, seed)}. {about_text_model(load_text(name, device))} "
                               f"Forward pass: {1000 * fwd.seconds:.1f} ms (timed once; reruns reuse it)."))
    export = AttentionExport(page=slug, model=name if seed is None else f"{name}-untrained-seed{seed}",
                             weights=fwd.attention, query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"text": picked.text})  # fmt: skip
    show_figure(memo_figure(f"{slug}_english_grid", heads_figure, fwd.attention[layer], labels,
                            title=f"{name}, layer {layer}: all {n_heads_trained} heads on your sentence ({state})"),
                key=f"{slug}_english_grid", export=export)
    roles = head_roles(name, device, seed)
    show_figure(memo_figure(f"{slug}_roles", head_role_grid, roles, title=f"What each head of {name} does ({state})"),
                key=f"{slug}_roles")
    st.caption(roles_caption(roles) + " Switch 'Weights' to untrained: the same architecture before training has "
               "no head with a job — every score sits near the uniform level.")
