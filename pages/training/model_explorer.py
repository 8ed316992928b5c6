"""Pick an English, shipped task or just-trained model, type an input, see what it predicts, the attention of every
layer × head, and (English models) what each head does."""

import numpy as np
import pandas as pd
import streamlit as st

from course.markdown_text import escape_markdown
from figures.attention_steps import token_labels
from figures.export import AttentionExport
from figures.head_roles import head_role_grid
from figures.heatmap import heatmap, heatmap_grid, position_labels
from ui.charts import show_figure
from ui.figure_memo import memo_figure
from ui.head_roles import head_roles, roles_caption
from ui.inputs import EnglishBox, ModelBox, PickedInput, pick_input, stop_on_problem
from ui.models import run_prediction
from ui.settings import get_settings
from ui.shell import page_shell
from ui.text_models import about_text_model, load_text, model_kind, text_forward, weights_label

SLUG = "model_explorer"
MODELS = ModelBox(note=lambda choice: f"{choice.about} Task: {choice.task.description}",
                  missing="No model to explore yet: train one on the 'Train it yourself' page (or run "
                          "`python scripts/train_models.py` to rebuild the shipped models).")  # fmt: skip

TOP_K = 8
MAX_PANELS = 48  # more layer × head maps than this: the grid shows one layer


def show_grid(weights: np.ndarray, cols: list[str], rows: list[str], title: str, export: AttentionExport,
              view: str = "") -> None:
    """Every layer × head map of ``weights (L, H, Lq, Lk)`` (rows = queries, cols = keys), then one head picked by
    the learner; a big model's grid shows one layer at a time."""
    L, H = weights.shape[:2]
    layers = range(L)
    if L * H > MAX_PANELS:  # a big model: one layer's heads at a time stays readable and fast
        shown = st.selectbox("Layer shown in the grid", range(L), key=f"{SLUG}_grid_layer")
        layers, title = range(shown, shown + 1), f"{title}, layer {shown} of {L} ({L * H} heads in all)"
    panels = [f"layer {layer} · head {head}" for layer in layers for head in range(H)]
    grid = weights[layers.start : layers.stop].reshape(len(layers) * H, *weights.shape[2:])
    show_figure(memo_figure(f"{SLUG}_grid", heatmap_grid, grid, cols, rows, panels, title, cols=min(H, 12)),
                key=f"{SLUG}_grid", export=export)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(L), key=f"{SLUG}_layer") if L > 1 else 0
    head = c2.selectbox("Head", range(H), key=f"{SLUG}_head") if H > 1 else 0
    layer, head = min(layer, L - 1), min(head, H - 1)
    show_figure(memo_figure(f"{SLUG}_one", heatmap, weights[layer, head], cols, rows,
                            f"Layer {layer}, head {head}" + (f": {view}" if view else "")),
                key=f"{SLUG}_one", export=export, name=export.stem(layer, head))


def top_predictions(logits: np.ndarray, tokenizer, k: int = TOP_K) -> pd.DataFrame:
    """The k most probable tokens of one position's logits ``(V,)``, with their probabilities."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    best = np.argsort(-p)[:k]
    return pd.DataFrame({"token": [repr(tokenizer.readable_token(int(i))) for i in best],
                         "probability": [f"{p[i]:.1%}" for i in best]})  # fmt: skip


def show_english(picked: PickedInput, device: str) -> None:
    """An English model on the learner's text: its predictions, every layer × head, and the head-role grid."""
    name, seed = picked.english, picked.untrained_seed
    tm, kind = load_text(name, device), model_kind(name)
    if picked.encoded.cut_message:
        st.info(picked.encoded.cut_message)
    fwd = text_forward(name, picked.encoded.ids, device, seed)
    st.caption(escape_markdown(f"Weights: {weights_label(name, seed)}. {about_text_model(tm)} Forward pass on your "
                               f"text: {1000 * fwd.seconds:.1f} ms (one run, timed when first computed; reruns "
                               "reuse it)."))
    tokens = list(picked.encoded.tokens)
    if kind == "decoder":
        st.markdown("**Most likely next tokens after your text**")
        st.dataframe(top_predictions(fwd.logits[-1], tm.tokenizer), hide_index=True)
    else:
        masks = [i for i, t in enumerate(tokens) if t == "[MASK]"]
        if masks:
            st.markdown(f"**Most likely tokens at the first [MASK] (position {masks[0]})**")
            st.dataframe(top_predictions(fwd.logits[masks[0]], tm.tokenizer), hide_index=True)
        else:
            st.info("Write [MASK] in your text to see what the encoder would fill in (the Fill in the blank page "
                    "goes further).")
    labels = token_labels(tokens)
    state = "trained" if seed is None else "untrained"
    export = AttentionExport(page=SLUG, model=name if seed is None else f"{name}-untrained-seed{seed}",
                             weights=fwd.attention, query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"model": name, "weights": state, "text": picked.text})  # fmt: skip
    view = "causal" if kind == "decoder" else "bidirectional"
    show_grid(fwd.attention, labels, labels, f"{name} ({state}): {view} self-attention, every layer × head", export)
    roles = head_roles(name, device, seed)
    show_figure(memo_figure(f"{SLUG}_roles", head_role_grid, roles, title=f"What each head of {name} does ({state})"),
                key=f"{SLUG}_roles")
    st.caption(roles_caption(roles))


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    picked = pick_input(SLUG, sentence=None, english=EnglishBox(untrained=True), model=MODELS,
                        device=str(settings.device), seed=settings.seed)  # fmt: skip
    stop_on_problem(picked)
    if picked.source == "english":
        show_english(picked, str(settings.device))
        st.caption("Rows are queries (the token being processed; in a decoder each row predicts the next token), "
                   "columns are keys. Each row sums to 1.")
        st.stop()
    choice, task, text = picked.model, picked.model.task, picked.text  # UnknownCharacters / InvalidInput name the problem and what to type
    p = run_prediction(choice, text)
    verdict = {True: "right", False: "WRONG", None: "(no single right answer for this input)"}[p.correct]
    st.text(f"input:    {text}\nanswer:   {p.text}\nexpected: {p.expected}   {verdict}")

    labels = position_labels(p.labels)
    if p.cross_attention is not None:
        source = position_labels(p.source_labels)
        views = {"cross-attention (decoder → source): the alignment": (p.cross_attention, labels, source),
                 "encoder self-attention": (p.encoder_attention, source, source),
                 "decoder self-attention (causal)": (p.self_attention, labels, labels)}  # fmt: skip
    else:
        kind = "bidirectional" if task.family == "encoder" else "causal"
        views = {f"self-attention ({kind})": (p.self_attention, labels, labels)}
    view = st.radio("Attention", list(views), horizontal=True, key=f"{SLUG}_view_{task.family}")
    weights, rows, cols = views[view]
    export = AttentionExport(page=SLUG, model=choice.shipped or f"session-{task.name}", weights=weights,
                             query_tokens=tuple(rows), key_tokens=tuple(cols),
                             inputs={"model": choice.label, "about": choice.about, "text": text, "view": view})  # fmt: skip
    show_grid(weights, cols, rows, f"{view}, every layer × head", export, view)
    st.caption("Rows are queries (the token that is being processed; in a decoder each row predicts the next "
               "token), columns are keys. Each row sums to 1.")  # fmt: skip
