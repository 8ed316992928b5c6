"""Pick a shipped or just-trained model, type an input, see its answer and the attention of every layer × head."""

import streamlit as st

from figures.export import AttentionExport
from figures.heatmap import heatmap, heatmap_grid, position_labels
from ui.charts import show_figure
from ui.inputs import ModelBox, pick_input, stop_on_problem
from ui.models import run_prediction
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "model_explorer"
MODELS = ModelBox(note=lambda choice: f"{choice.about} Task: {choice.task.description}",
                  missing="No model to explore yet: train one on the 'Train it yourself' page (or run "
                          "`python scripts/train_models.py` to rebuild the shipped models).")  # fmt: skip

settings = get_settings()
lab = page_shell(SLUG)
with lab:
    picked = pick_input(SLUG, sentence=None, model=MODELS, device=str(settings.device))
    choice, task, text = picked.model, picked.model.task, picked.text
    stop_on_problem(picked)  # UnknownCharacters / InvalidInput name the problem and what to type
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
    L, H = weights.shape[:2]
    panels = [f"layer {layer} · head {head}" for layer in range(L) for head in range(H)]
    export = AttentionExport(page=SLUG, model=choice.shipped or f"session-{task.name}", weights=weights,
                             query_tokens=tuple(rows), key_tokens=tuple(cols),
                             inputs={"model": choice.label, "about": choice.about, "text": text, "view": view})  # fmt: skip
    show_figure(heatmap_grid(weights.reshape(L * H, *weights.shape[2:]), cols, rows, panels,
                             f"{view}, every layer × head", cols=H), key=f"{SLUG}_grid", export=export)  # fmt: skip

    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(L), key=f"{SLUG}_layer") if L > 1 else 0
    head = c2.selectbox("Head", range(H), key=f"{SLUG}_head") if H > 1 else 0
    layer, head = min(layer, L - 1), min(head, H - 1)
    show_figure(heatmap(weights[layer, head], cols, rows, f"Layer {layer}, head {head}: {view}"), key=f"{SLUG}_one",
                export=export, name=export.stem(layer, head))  # fmt: skip
    st.caption("Rows are queries (the token that is being processed; in a decoder each row predicts the next "
               "token), columns are keys. Each row sums to 1.")  # fmt: skip
