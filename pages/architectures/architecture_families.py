"""Encoder-only, decoder-only, encoder-decoder: data flow and masks side by side, and a live example of each."""

import dataclasses

import streamlit as st
import torch

from core.lab.families import FAMILY_NAMES, FAMILY_TASKS, family_masks, run_example, untrained_model
from core.train.tasks import get_task
from course.markdown_text import escape_markdown
from figures.architecture import flow_diagram, masked_attention, next_token_bars
from figures.attention_steps import token_labels
from figures.heatmap import heatmap_grid
from ui.charts import show_figure
from ui.english_heads import causal_vs_bidirectional
from ui.figure_memo import memo_figure
from ui.inputs import task_text
from ui.models import load_shipped, shipped_cards
from ui.settings import get_settings
from ui.shell import page_shell
from ui.text_models import english_model_names

SLUG = "architecture_families"
EXAMPLES = {"encoder": "fill in the hidden letters", "decoder": "predict the next token",
            "seq2seq": "rewrite a date with cross-attention"}
LABELS = {f: f"{FAMILY_NAMES[f]}: {EXAMPLES[f]}" for f in FAMILY_TASKS}  # family -> what the radio shows


def trained_name(family: str) -> str | None:
    """The shipped model for this family (the family's usual task first), or None when none is shipped."""
    names = [n for n, card in shipped_cards().items() if card["family"] == family]
    preferred = [n for n in names if shipped_cards()[n]["task"] == FAMILY_TASKS[family]]
    return (preferred or names or [None])[0]


@st.cache_resource(show_spinner=False)
def fallback_model(task_name: str, seed: int, device: str):
    """An untrained, seeded model (read-only): shown, clearly labelled, only when no trained model is shipped."""
    return untrained_model(get_task(task_name), seed).to(device).requires_grad_(False)


@st.cache_data(max_entries=64, show_spinner="Running the model…")
def example(family: str, name: str | None, text: str, seed: int, device: str):
    model, task = (fallback_model(FAMILY_TASKS[family], seed, device), get_task(FAMILY_TASKS[family])) if name is None \
        else (load_shipped(name, device)[0], get_task(shipped_cards()[name]["task"]))
    result = run_example(model, task, text)
    views = tuple(dataclasses.replace(v, weights=v.weights.numpy(), mask=v.mask.numpy()) for v in result.attentions)
    return dataclasses.replace(result, attentions=views)


@st.cache_resource(show_spinner=False)
def overview_figures():
    """The two constant figures (data flow, mask patterns), built once per process. Read-only: st.plotly_chart
    copies a figure, it never changes it."""
    masks, positions = family_masks(6), [str(i) for i in range(6)]
    grid = heatmap_grid(torch.stack(list(masks.values())), positions, positions, list(masks),
                        "Masks: who may attend to whom", cols=4, colorbar_title="mask")
    return flow_diagram(), grid


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    flow, masks = overview_figures()
    show_figure(flow, key=f"{SLUG}_flow")
    show_figure(masks, key=f"{SLUG}_masks")

    st.subheader("Your sentence: encoder-only (BERT) vs decoder-only (GPT)")
    st.caption("The shipped English models read the same text: the BERT lets every token see both sides, the GPT "
               "only the left. Pick a layer and head; the second row is each model's untrained twin.")
    causal_vs_bidirectional(SLUG, english_model_names(), settings.seed, str(settings.device))

    st.subheader("Live examples (task models)")
    family = st.radio("Family", tuple(LABELS), format_func=lambda f: LABELS.get(f, f), key=f"{SLUG}_family")
    name = trained_name(family)
    task = get_task(shipped_cards()[name]["task"] if name else FAMILY_TASKS[family])
    if name is None:
        st.warning(f"No trained {FAMILY_NAMES[family]} model is shipped: this is an UNTRAINED model with random "
                   f"weights (seed {settings.seed}). Its answer is noise; its masks and data flow are the real ones.")
    else:
        card = shipped_cards()[name]
        st.caption(f"Trained model '{name}' ({card['task']} task, {card['n_parameters']:,} parameters), held-out "
                   f"exact match {card['held_out']['exact_match']:.1%}; running on {settings.device}.")
    st.caption(escape_markdown(task.description))
    text = task_text(task, f"{SLUG}_{family}_text", max_chars=64)
    try:
        result = example(family, name, text, settings.seed, str(settings.device))
    except ValueError as err:  # the task's UnknownCharacters / InvalidInput: what to type instead
        st.warning(f"This input cannot be used: {escape_markdown(str(err))}")
        st.stop()
    verdict = {True: "✅ right", False: "❌ wrong", None: ""}[result.correct]
    st.text(f"Model output: {result.answer}    expected: {result.expected}    {verdict}")
    if result.next_token:
        show_figure(memo_figure(f"{SLUG}_next", next_token_bars, result.next_token, "Next token after the prompt (top 5)"),
                    key=f"{SLUG}_next")
    views = {v.name: v for v in result.attentions}
    c1, c2, c3 = st.columns(3)
    view = views[c1.selectbox("Attention", list(views), index=len(views) - 1, key=f"{SLUG}_{family}_view")]
    n_layers, n_heads = view.weights.shape[:2]
    layer = c2.selectbox("Layer", range(1, n_layers + 1), key=f"{SLUG}_layer")
    head = c3.selectbox("Head", ["mean", *range(n_heads)], key=f"{SLUG}_head")
    per_head = view.weights[layer - 1]  # (H, Lq, Lk)
    weights = per_head.mean(0) if head == "mean" else per_head[head]
    title = f"{view.name}, layer {layer}, {'mean of heads' if head == 'mean' else f'head {head}'} (blank = masked)"
    show_figure(memo_figure(f"{SLUG}_attention", masked_attention, weights, view.mask, token_labels(view.query_labels),
                            token_labels(view.key_labels), title), key=f"{SLUG}_attention")
