"""Type a sentence and follow it through Q, K, V, the scores, ÷√d_k, the mask, softmax and the weighted sum."""

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from core.lab.head_steps import seeded_head_steps, trained_head_steps
from core.train.tasks import get_task
from course.markdown_text import escape_markdown
from figures import attention_steps as steps
from figures.attention_steps import token_labels
from figures.export import AttentionExport
from figures.heatmap import as_numpy, heatmap
from figures.small_multiples import every_label
from ui.charts import show_figure
from ui.inputs import ModelBox, PickedInput, pick_input, stop_on_problem
from ui.models import load_shipped
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "attention_step_by_step"


@st.cache_data(max_entries=64, show_spinner=False)
def compute(tokens: tuple[str, ...] | None, n_random: int, d_model: int, d_k: int, temperature: float, causal: bool,
            seed: int, device: str) -> dict[str, np.ndarray]:
    """:func:`seeded_head_steps` as numpy arrays (cached on the inputs)."""
    fields = seeded_head_steps(tokens, n_random, d_model, d_k, temperature, causal, seed, device)
    return {name: as_numpy(t) for name, t in fields.items()}


@st.cache_data(max_entries=64, show_spinner=False)
def compute_trained(name: str, text: str, layer: int, head: int, temperature: float, device: str) -> dict:
    """:func:`trained_head_steps` of a shipped decoder (shared, read-only) as numpy arrays, and its tokens."""
    model, card = load_shipped(name, device)
    labels, fields = trained_head_steps(model, get_task(card["task"]), text, layer, head, temperature)
    return {"labels": labels, **{name: as_numpy(t) for name, t in fields.items()}}


@dataclass(frozen=True)
class HeadRun:
    """One head on the picked input, ready to draw: trace fields ``r`` (numpy), tokens, settings, Q, K, V's story."""
    r: dict
    tokens: list[str]
    d_model: int
    d_k: int
    temperature: float
    mask: str
    model: str
    qkv_note: str
    extra: dict = field(default_factory=dict)


def seeded_head(picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """Your sentence or random tokens: seeded random embeddings and W_Q, W_K, W_V of the chosen widths."""
    d_model = row[0].slider("d_model (embedding width)", 2, 64, 16, key=f"{SLUG}_d_model")
    d_k = row[1].slider("d_k (query/key/value width)", 1, 32, 8, key=f"{SLUG}_d_k")
    mask = row[3].selectbox("Mask", ["none", "causal"], key=f"{SLUG}_mask")
    stop_on_problem(picked)
    sentence, n = picked.source == "sentence", len(picked.words)
    st.caption(("Tokenizer: lower-cased words split on whitespace (punctuation stays attached). Embeddings: seeded "
                f"random N(0, 1) per word (seed {settings.seed}; equal words share a vector, no positions added). "
                if sentence else f"Random tokens: {n} independent N(0, 1) embeddings (seed {settings.seed}). ")
               + "W_Q, W_K, W_V: seeded random initialisation, N(0, 1/d_model).")
    r = compute(picked.words if sentence else None, n, d_model, d_k, float(temperature), mask == "causal",
                settings.seed, str(settings.device))
    note = (f"`X {tuple(r['x'].shape)}` · `W_Q, W_K, W_V ({d_model}, {d_k})` → `Q = X W_Q`, `K = X W_K`, "
            f"`V = X W_V`, each `({n}, {d_k})`.")
    return HeadRun(r, list(picked.words), d_model, d_k, temperature, mask, f"random-seed{settings.seed}", note)


def trained_head(picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """A shipped decoder's own head: its q, k, v from the model's forward pass on the picked input (causal)."""
    choice, config = picked.model, picked.model.model.config
    layer = row[0].selectbox("Layer", list(range(config.n_layers)), key=f"{SLUG}_trained_layer")
    head = row[1].selectbox("Head", list(range(config.n_heads)), key=f"{SLUG}_trained_head")
    mask = row[3].selectbox("Mask", ["causal"], key=f"{SLUG}_mask_trained", disabled=True,
                            help="A decoder is trained with the causal mask, so its heads are shown with it.")
    stop_on_problem(picked)
    r = compute_trained(choice.shipped, picked.text, layer, head, float(temperature), str(settings.device))
    gap = float(np.abs(r["weights"] - r["model_weights"]).max()) if temperature == 1 else None
    st.caption(escape_markdown(
        f"{choice.about} Tokens: the input, then the model's own answer (what it reads while answering). "
        f"Q, K, V: layer {layer}, head {head} of the model's forward pass (after W_Q, W_K, W_V and RoPE), "
        "then core.attention on them." + (f" It reproduces the model's own weights: max |Δ| = {gap:.1e}."
                                          if gap is not None else "")))
    d_model, d_k, n = config.d_model, config.d_model // config.n_heads, len(r["labels"])
    note = (f"Layer {layer}'s input `X ({n}, {d_model})`, normalised · `W_Q, W_K, W_V ({d_model}, {d_model})` "
            f"split into {config.n_heads} heads → head {head}'s `Q, K, V`, each `({n}, {d_k})`.")
    return HeadRun(r, r["labels"], d_model, d_k, temperature, mask, choice.shipped, note, {"layer": layer, "head": head})


def show_qkv(run: HeadRun) -> None:
    """Step 1: the embeddings (seeded path only) and Q | K | V side by side."""
    st.subheader("1. Q, K, V: three projections of the same embeddings")
    st.markdown(run.qkv_note)
    labels = token_labels(run.tokens)
    if "x" in run.r:  # a trained head's input X is the model's own residual stream: not drawn
        show_figure(steps.embeddings_figure(run.r["x"], labels), key=f"{SLUG}_x")
    show_figure(steps.qkv_figure(run.r["q"], run.r["k"], run.r["v"], labels), key=f"{SLUG}_qkv")


def show_stages(run: HeadRun, settings) -> None:
    """Step 2: one chosen stage of the scores (or the output), then the softmax weights with their export."""
    st.subheader("2. Scores → ÷√d_k → mask → softmax → weighted sum")
    stage = st.radio("Stage to show (the weights, step 4, are always below)", list(steps.STAGES), horizontal=True,
                     key=f"{SLUG}_stage")
    labels = token_labels(run.tokens)
    show_figure(every_label(steps.stage_figure(run.r, stage, labels)), key=f"{SLUG}_stage_map")
    export = AttentionExport(page=SLUG, model=run.model, weights=run.r["weights"][None, None],
                             query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"tokens": list(run.tokens), "d_model": run.d_model, "d_k": run.d_k,
                                     "t": run.temperature, "mask": run.mask, "seed": settings.seed, **run.extra})
    show_figure(every_label(heatmap(run.r["weights"], labels, labels, "4 · softmax weights (rows sum to 1)", zmin=0)),
                key=f"{SLUG}_weights", export=export)
    st.caption(f"÷ √d_k = ÷ {1 / float(run.r['scale']):.3f}"
               + (f", then ÷ temperature {run.temperature:g}" if run.temperature != 1 else ""))


def show_query(run: HeadRun, settings) -> None:
    """Step 3: one query's scores and weights, and its output as the weights' mix of the value vectors."""
    st.subheader("3. One query, close up")
    labels, plain = token_labels(run.tokens), token_labels(run.tokens, escape=False)  # a select box: no escaping
    if st.session_state.get(f"{SLUG}_query", plain[0]) not in plain:
        st.session_state.pop(f"{SLUG}_query", None)  # the sentence changed: back to the first token
    i = plain.index(st.selectbox("Query token", plain, key=f"{SLUG}_query"))
    show_figure(steps.query_row_figure(run.r["masked_scores"][i], run.r["weights"][i], labels, labels[i]), key=f"{SLUG}_row")
    st.caption("Left: the query's row of scores after ÷√d_k (and ÷ temperature); a masked key has score −∞ and no "
               "bar. Right: the same row after softmax. Below: the output is the weights' mix of the value vectors.")
    show_figure(steps.weighted_sum_figure(run.r["weights"][i], run.r["v"], run.r["output"][i], labels, labels[i]),
                key=f"{SLUG}_sum")
    st.caption(f"Device: {settings.device}. Hover any cell or bar for its exact value.")


TRAINED = ModelBox("Trained model", "trained", ("decoder",), yours=False, text_key="trained_text",
                   missing="No shipped decoder model in models/ (run `python scripts/train_models.py`).")
settings = get_settings()
lab = page_shell(SLUG)
with lab:
    left, right = st.columns(2)
    row, text_at = st.columns(4), st.empty()  # the parameters' row, then (trained model) its input box
    picked = pick_input(SLUG, random=True, model=TRAINED, where=(left, right), text_at=text_at,
                        device=str(settings.device))
    temperature = row[2].slider("Temperature", 0.1, 5.0, 1.0, step=0.1, key=f"{SLUG}_temperature",
                                help="Scores are divided by it before softmax: < 1 sharpens, > 1 flattens.")
    run = (trained_head if picked.model else seeded_head)(picked, temperature, settings, row)
    show_qkv(run)
    show_stages(run, settings)
    show_query(run, settings)
