"""The English models' heads on a learner's sentence, for the pages that show them: one head's stages (cached),
the layer / head pickers, and maps side by side (trained vs untrained twin, causal GPT vs bidirectional BERT).

Every map says which weights it shows (:func:`ui.text_models.weights_label`); masked cells are blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.lab.text_heads import text_head_steps
from core.text_model import EncodedText, encode_text
from course.markdown_text import escape_markdown
from figures.architecture import masked_maps_side_by_side
from figures.attention_steps import token_labels
from ui.charts import show_figure
from ui.figure_memo import memo_figure
from ui.inputs import EnglishBox, pick_input
from ui.text_models import load_text, load_untrained, weights_label

MASK_NAMES = {"decoder": "causal mask: each token sees itself and the tokens to its left",
              "encoder": "no mask: each token sees every token, both sides"}  # fmt: skip


@st.cache_data(max_entries=128, show_spinner=False)
def english_head(name: str, ids: tuple[int, ...], layer: int, head: int, untrained_seed: int | None,
                 device: str = "cpu") -> dict[str, np.ndarray | float]:
    """:func:`core.lab.text_heads.text_head_steps` of a shipped English model (its untrained twin when
    ``untrained_seed`` is set) as numpy arrays: q, k, v ``(T, d_k)``, the score stages and weights ``(T, T)``,
    mask (bool), output, scale. Cached on the inputs."""
    tm = load_text(name, device) if untrained_seed is None else load_untrained(name, untrained_seed, device)
    fields = text_head_steps(tm, ids, layer, head)
    return {k: v if isinstance(v, float) else (v.numpy() if k == "mask" else v.double().numpy())
            for k, v in fields.items()}


def pick_layer_head(slug: str, name: str, cols: Sequence, device: str = "cpu") -> tuple[int, int]:
    """Layer and head select boxes (keys ``<slug>_english_layer`` / ``_head``) sized by ``name``'s config."""
    cfg = load_text(name, device).model.config
    layer = cols[0].selectbox("Layer", list(range(cfg.n_layers)), key=f"{slug}_english_layer",
                              help="0 = the first layer, reading the token and position embeddings.")
    head = cols[1].selectbox("Head", list(range(cfg.n_heads)), key=f"{slug}_english_head")
    return layer, head


@dataclass(frozen=True)
class HeadMap:
    """One map to draw: an English model (by name), its weights (untrained twin's seed, or None = trained), the text
    as it reads it."""

    name: str
    untrained_seed: int | None
    encoded: EncodedText


def which_weights(m: HeadMap) -> str:
    """'trained' or 'untrained (seed s)': what a panel title says about its weights."""
    return "trained" if m.untrained_seed is None else f"untrained (seed {m.untrained_seed})"


def head_maps_figure(maps: Sequence[HeadMap], layer: int, head: int, title: str, device: str = "cpu") -> go.Figure:
    """The weights ``(T, T)`` of layer ``layer``, head ``head`` of each of ``maps`` side by side, masked cells blank,
    tokens as labels."""
    runs = [english_head(m.name, m.encoded.ids, layer, head, m.untrained_seed, device) for m in maps]
    return masked_maps_side_by_side([(r["weights"], r["mask"], token_labels(m.encoded.tokens))
                                     for r, m in zip(runs, maps, strict=True)],
                                    [f"{m.name}, {which_weights(m)}" for m in maps], f"{title}: layer {layer}, head {head}")


def show_head_maps(slug: str, key: str, maps: Sequence[HeadMap], layer: int, head: int, title: str,
                   device: str = "cpu") -> None:
    """``maps`` side by side in one figure (key ``<slug>_<key>``), and a caption naming their weights."""
    show_figure(memo_figure(f"{slug}_{key}", head_maps_figure, tuple(maps), layer, head, title, device),
                key=f"{slug}_{key}")
    st.caption("Weights: " + "; ".join(weights_label(m.name, m.untrained_seed) for m in maps) + ". Blank = masked.")


def trained_vs_untrained(name: str, encoded: EncodedText, seed: int) -> list[HeadMap]:
    """The same text through trained ``name`` and its untrained twin (seed ``seed``)."""
    return [HeadMap(name, None, encoded), HeadMap(name, seed, encoded)]


def say_cut(name: str, encoded: EncodedText) -> None:
    """An info box when ``encoded`` was cut to the model's context (user text: escaped)."""
    if encoded.cut_message is not None:
        st.info(escape_markdown(f"{name}: {encoded.cut_message}"))


def causal_vs_bidirectional(slug: str, names: Sequence[str], seed: int, device: str = "cpu") -> None:
    """The learner's sentence through the picked English model and, beside it, every other one in ``names`` (the GPT:
    causal mask; the BERT: none), one layer and head: trained in the first row, the untrained twins (seed ``seed``)
    in the second. A problem with the text is said (a warning) without stopping the page: sections below still run.
    """
    if not names:  # pick_input would stop the page; the sections below do not need these models
        st.info("No English model found in models/ (run `python scripts/train_models.py --only english-bpe --only "
                "english-gpt --only english-bert`).")
        return
    top = st.columns(2)
    text_at = st.empty()
    picked = pick_input(slug, sentence=None, english=EnglishBox(label="English model (shown first)"), where=top[0],
                        text_at=text_at, device=device, seed=seed)
    layer, head = pick_layer_head(slug, picked.english, top[1].columns(2), device)
    if picked.problem is not None:
        st.warning(picked.problem)
        return
    order = [picked.english, *(n for n in names if n != picked.english)]
    encoded = {n: picked.encoded if n == picked.english else encode_text(load_text(n, device), picked.text)
               for n in order}
    for n in order:
        say_cut(n, encoded[n])
    st.caption(" · ".join(f"{n}: {MASK_NAMES[load_text(n, device).kind]}" for n in order) + ". The same words; the "
               "GPT reads `<|endoftext|>` first, the BERT `[CLS]` first and `[SEP]` last, as each was trained.")
    for weights, untrained_seed in (("Trained", None), (f"Untrained twins (seed {seed})", seed)):
        show_head_maps(slug, weights.split()[0].lower(), [HeadMap(n, untrained_seed, encoded[n]) for n in order],
                       layer, head, f"{weights}: {' vs '.join(order)}", device)
