"""Every head's map side by side, the concatenation, W_O, the live parameter count and how different the heads are."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.lab.softmax_stats import pairwise_head_divergence
from core.lab.toy_inputs import random_embeddings, seeded_embeddings, seeded_module
from core.masks import causal_mask
from core.multihead import MultiHeadAttention
from course.markdown_text import escape_markdown
from figures.attention_steps import token_labels
from figures.export import AttentionExport
from figures.heatmap import heatmap, position_labels
from figures.multihead import concat_figure, divergence_figure, heads_figure, shape_rows
from ui.charts import show_figure
from ui.figure_memo import memo_figure
from ui.head_roles import show_layer_heads_and_roles
from ui.inputs import ModelBox, pick_input, stop_on_problem
from ui.models import run_prediction
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "multi_head"
MAX_HEADS = 16


@st.cache_data(max_entries=64, show_spinner=False)
def run_mha(tokens: tuple[str, ...] | None, n_random: int, d_model: int, n_heads: int, causal: bool, seed: int,
            device: str) -> dict:
    """One seeded MultiHeadAttention call on the embeddings; its trace as numpy, its live parameters, the shapes."""
    mha = seeded_module(lambda: MultiHeadAttention(d_model, n_heads), seed).to(device).eval()
    x = seeded_embeddings(tokens, d_model, seed) if tokens else random_embeddings(n_random, d_model, seed)
    x = x[None].to(device)  # (B=1, T, d_model)
    mask = causal_mask(x.shape[1], device=device) if causal else None
    with torch.no_grad():
        out, tr = mha(x, mask=mask)  # out (1, T, d_model)
    tensors = {"x": x, "q": tr.q, "k": tr.k, "v": tr.v, "weights": tr.weights, "heads_out": tr.heads_out,
               "concat": tr.concat, "out": out}
    return {
        "weights": tr.weights[0].cpu().double().numpy(),  # (H, T, T)
        "concat": tr.concat[0].cpu().double().numpy(),  # (T, d_model)
        "divergence": pairwise_head_divergence(tr.weights[0].double()).cpu().numpy(),  # (H, H)
        "shapes": {name: tuple(t.shape) for name, t in tensors.items()},
        "params": [(name, tuple(p.shape), p.numel()) for name, p in mha.named_parameters()],
    }


TRAINED = ModelBox("Trained model", "trained", ("decoder",), yours=False, max_chars=0, missing_is_info=True,
                   missing="No shipped decoder model found in models/ (run `python scripts/train_models.py`).")


def show_trained_heads(settings, shared: bool) -> None:
    """Section 7: every head of one layer of a shipped decoder on its task's example, and how different they are."""
    t1, t2 = st.columns(2)
    picked = pick_input(SLUG, sentence=None, model=TRAINED, where=t1, device=str(settings.device))
    choice, text = picked.model, picked.text  # the task's example
    p = run_prediction(choice, text)
    trained = np.asarray(p.self_attention, dtype=float)  # (L, H, T, T)
    n_layers, trained_heads = trained.shape[:2]
    layer = t2.selectbox("Layer", list(range(n_layers)), index=n_layers - 1, key=f"{SLUG}_trained_layer")
    st.caption(escape_markdown(f"{choice.about} Input: '{text}' (the task's example; type your own on the Model "
                               "explorer page). Causal self-attention, trained weights."))
    positions = position_labels(p.labels)
    trained_export = AttentionExport(page=SLUG, model=choice.shipped, weights=trained, query_tokens=tuple(positions),
                                     key_tokens=tuple(positions), inputs={"text": text})
    show_figure(memo_figure(f"{SLUG}_trained_grid", heads_figure, trained[layer], positions, shared_scale=shared,
                            title=f"Shipped {choice.shipped} model, layer {layer}: all {trained_heads} heads"),
                key=f"{SLUG}_trained_grid", export=trained_export)
    trained_div = pairwise_head_divergence(torch.from_numpy(trained[layer])).numpy()  # (H, H)
    show_figure(memo_figure(f"{SLUG}_trained_divergence", divergence_figure, trained_div,
                            f"How different the trained heads of layer {layer} are (JS divergence)"),
                key=f"{SLUG}_trained_divergence")
    off_trained = trained_div[~np.eye(trained_heads, dtype=bool)]
    st.caption(f"Mean JS divergence between the trained heads of layer {layer}: {off_trained.mean():.3f} nats. "
               "Training gives heads jobs (reverse: read the mirrored input position, the anti-diagonal; induction: "
               "one head looks at the previous token, a later one at the token after the earlier occurrence), and "
               "their maps usually differ far more than the random heads' above.")


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    st.subheader("1. Trained heads on your sentence")
    show_layer_heads_and_roles(SLUG, settings)

    st.subheader("2. Build it yourself: H heads from random weights")
    picked = pick_input(SLUG, random=True)
    c1, c2, c3 = st.columns(3)
    n_heads = c1.slider("Heads H", 1, MAX_HEADS, 4, key=f"{SLUG}_heads")
    d_model = c2.slider("d_model", 2, 128, 32, step=2, key=f"{SLUG}_d_model")
    causal = c3.toggle("Causal mask", False, key=f"{SLUG}_causal")

    if d_model % n_heads:
        valid = [h for h in range(1, MAX_HEADS + 1) if d_model % h == 0]
        st.warning(f"d_model = {d_model} cannot be split into {n_heads} equal heads (d_k = d_model / H must be a "
                   f"whole number). Head counts that work with d_model = {d_model}: {', '.join(map(str, valid))}; "
                   f"or pick a d_model that is a multiple of {n_heads}.")
        st.stop()
    stop_on_problem(picked)
    tokens, sentence = list(picked.words), picked.source == "sentence"
    r = run_mha(picked.words if sentence else None, 0 if sentence else len(tokens), d_model, n_heads, causal,
                settings.seed, str(settings.device))
    labels, d_k = token_labels(tokens), d_model // n_heads
    st.caption(f"Weights: seeded random initialisation (seed {settings.seed}) of core.multihead.MultiHeadAttention"
               f"({d_model}, {n_heads}), untrained. Embeddings: " + ("seeded random per lower-cased whitespace word."
               if sentence else "independent seeded N(0, 1) vectors.") + f" d_k = {d_model}/{n_heads} "
               f"= {d_k}. Device: {settings.device}.")

    st.subheader(f"3. {n_heads} heads, {n_heads} maps")
    shared = st.toggle("Shared colour scale across heads", True, key=f"{SLUG}_shared")
    export = AttentionExport(page=SLUG, model=f"random-seed{settings.seed}", weights=r["weights"][None],
                             query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"tokens": tokens, "d_model": d_model, "heads": n_heads, "causal": causal})
    show_figure(memo_figure(f"{SLUG}_heads_grid", heads_figure, r["weights"], labels, shared_scale=shared),
                key=f"{SLUG}_heads_grid", export=export)
    if st.session_state.get(f"{SLUG}_focus", 0) not in range(n_heads):
        st.session_state.pop(f"{SLUG}_focus", None)  # fewer heads than the one in focus
    focus = st.selectbox("Focus on head", list(range(n_heads)), key=f"{SLUG}_focus")
    show_figure(memo_figure(f"{SLUG}_focus_map", heatmap, r["weights"][focus], labels, labels,
                            f"Head {focus}: weights (d_k = {d_k})", zmin=0), key=f"{SLUG}_focus_map")

    st.subheader("4. Concatenate the heads, project with W_O")
    st.dataframe(pd.DataFrame(shape_rows(r["shapes"])), hide_index=True, width="stretch")
    show_figure(memo_figure(f"{SLUG}_concat", concat_figure, r["concat"], labels, n_heads), key=f"{SLUG}_concat")

    st.subheader("5. Parameters, counted from the live module")
    counted = sum(n for _, _, n in r["params"])
    formula = 4 * d_model * d_model + 4 * d_model
    m1, m2 = st.columns(2)
    m1.metric("Parameters in the module", f"{counted:,}")
    m2.metric("4·d_model² + 4·d_model", f"{formula:,}")
    (st.success if counted == formula else st.error)(
        f"{'Equal' if counted == formula else 'Not equal'}: W_Q, W_K, W_V, W_O are {d_model}×{d_model} each, plus "
        f"4 biases of {d_model}. The head count does not change it: H heads of d_k = d_model/H split the same "
        "matrices.")
    st.dataframe(pd.DataFrame([{"parameter": n, "shape": str(s), "count": c} for n, s, c in r["params"]]),
                 hide_index=True, width="stretch")

    st.subheader("6. Do the heads look at different things?")
    if n_heads == 1:
        st.info("With one head there is nothing to compare: add heads.")
    else:
        show_figure(memo_figure(f"{SLUG}_divergence", divergence_figure, r["divergence"]), key=f"{SLUG}_divergence")
        off = r["divergence"][~np.eye(n_heads, dtype=bool)]
        st.caption(f"Mean JS divergence between distinct heads: {off.mean():.3f} nats (0 = identical maps, "
                   f"log 2 ≈ 0.693 = no key in common). Untrained heads differ only by their random W_Q, W_K.")

    st.subheader("7. A task model's heads: a shipped model's layer, head by head")
    show_trained_heads(settings, shared)
