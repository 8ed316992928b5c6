"""The step-by-step page's three kinds of head, each read into one :class:`HeadRun` the page draws: seeded random
weights on your words or random tokens, a shipped task model's own head, or an English model's own head (trained or
its untrained twin). Each runner draws its own row of parameters (``row``: four columns) and stops on bad input."""

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from core.lab.head_steps import seeded_head_steps, trained_head_steps
from core.train.tasks import get_task
from course.markdown_text import escape_markdown
from figures.heatmap import as_numpy
from ui.english_heads import english_head, pick_layer_head, say_cut
from ui.inputs import PickedInput, stop_on_problem
from ui.models import load_shipped
from ui.text_models import about_text_model, load_text, weights_label


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


def seeded_head(slug: str, picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """Your sentence or random tokens: seeded random embeddings and W_Q, W_K, W_V of the chosen widths."""
    d_model = row[0].slider("d_model (embedding width)", 2, 64, 16, key=f"{slug}_d_model")
    d_k = row[1].slider("d_k (query/key/value width)", 1, 32, 8, key=f"{slug}_d_k")
    mask = row[3].selectbox("Mask", ["none", "causal"], key=f"{slug}_mask")
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


def trained_head(slug: str, picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """A shipped decoder's own head: its q, k, v from the model's forward pass on the picked input (causal)."""
    choice, config = picked.model, picked.model.model.config
    layer = row[0].selectbox("Layer", list(range(config.n_layers)), key=f"{slug}_trained_layer")
    head = row[1].selectbox("Head", list(range(config.n_heads)), key=f"{slug}_trained_head")
    mask = row[3].selectbox("Mask", ["causal"], key=f"{slug}_mask_trained", disabled=True,
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


def english_head_run(slug: str, picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """An English model's own head (or its untrained twin's) on your text: every stage read from its forward pass."""
    tm, device = load_text(picked.english, str(settings.device)), str(settings.device)
    layer, head = pick_layer_head(slug, picked.english, row, device)
    mask = {"decoder": "causal", "encoder": "none"}[tm.kind]
    row[3].selectbox("Mask", [mask], key=f"{slug}_mask_english", disabled=True,
                     help="The mask the model was trained with: causal for the GPT, none for the BERT.")
    stop_on_problem(picked)
    say_cut(picked.english, picked.encoded)
    r = english_head(picked.english, picked.encoded.ids, layer, head, picked.untrained_seed, device)
    st.caption(escape_markdown(f"Weights: {weights_label(picked.english, picked.untrained_seed)}. "
                               f"{about_text_model(tm)} Tokens: the model's own BPE tokens of your text, framed as "
                               "it was trained. Every stage below is read from the model's forward pass (temperature "
                               "1, the model's own softmax)."))
    cfg, n = tm.model.config, len(r["weights"])
    note = (f"Layer {layer}'s input `X ({n}, {cfg.d_model})`, normalised · `W_Q, W_K, W_V ({cfg.d_model}, "
            f"{cfg.d_model})` split into {cfg.n_heads} heads → head {head}'s `Q, K, V`, each `({n}, {cfg.d_k})`.")
    weights = "trained" if picked.untrained_seed is None else "untrained"
    return HeadRun(r, list(picked.encoded.tokens), cfg.d_model, cfg.d_k, 1.0, mask, f"{picked.english}-{weights}",
                   note, {"layer": layer, "head": head, "weights": weights})


def head_run(slug: str, picked: PickedInput, temperature: float, settings, row) -> HeadRun:
    """The picked source's head: an English model, a task model or seeded random weights."""
    runner = english_head_run if picked.source == "english" else trained_head if picked.model else seeded_head
    return runner(slug, picked, temperature, settings, row)
