"""The English models (and any text model of core.text_model) on pages: loaded once, run per input, cached.

Shared objects (``st.cache_resource``) are read-only: models in eval mode with gradients off, never trained. The
untrained twin (same architecture, seeded weights) is built once per (model, seed, device) and is just as read-only.
Forward passes are cached per (model, trained?, ids, device) as numpy arrays, so a rerun with the same input costs
a dictionary look-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.measure.timer import time_call
from core.text_model import (
    KINDS,
    TextModel,
    TextRun,
    load_text_model,
    run_text,
    shipped_text_models,
    untrained_twin,
)
from core.train.checkpoints import MODELS_DIR, read_card
from ui.model_folders import LOCAL_PREFIX, LocalModel, discover_local_models

ENGLISH_GPT, ENGLISH_BERT = "english-gpt", "english-bert"
DEFAULT_SENTENCE = "The animal didn't cross the street because it was too tired."


@st.cache_data(show_spinner=False, ttl=60)
def local_models() -> dict[str, LocalModel]:
    """key -> every checkpoint folder found on disk (ui.model_folders), re-scanned at most once a minute."""
    return {m.key: m for m in discover_local_models()}


@st.cache_resource(show_spinner="Loading the model…")
def load_text(name: str, device: str = "cpu") -> TextModel:
    """A shipped text model by name, or a discovered local checkpoint by key ("local:<name>"), on ``device``;
    shared by every session: read it, never train it. Check :func:`local_model_problem` before a local one."""
    source = local_models()[name].path if name.startswith(LOCAL_PREFIX) else name
    tm = load_text_model(source, device=device)
    tm.model.requires_grad_(False)
    return tm


@st.cache_resource(show_spinner=False)
def load_untrained(name: str, seed: int, device: str = "cpu") -> TextModel:
    """The untrained twin of ``name`` (seeded weights, same tokenizer); shared and read-only like :func:`load_text`."""
    tm = untrained_twin(load_text(name, device), seed)
    tm.model.requires_grad_(False)
    return tm


def english_model_names(kinds: tuple[str, ...] = ("decoder", "encoder")) -> list[str]:
    """Keys of the models a learner can type English into, of ``kinds``: the shipped English (BPE) models (the GPT
    first, then the BERT), then the usable local checkpoints (ui.model_folders) as "local:<name>"."""
    names = [n for n in shipped_text_models() if n.startswith("english-")]
    order = {ENGLISH_GPT: 0, ENGLISH_BERT: 1}
    names.sort(key=lambda n: (order.get(n, 2), n))
    names += [key for key, m in local_models().items() if m.problem is None]
    return [n for n in names if model_kind(n) in kinds]


@st.cache_data(show_spinner=False)
def model_kind(name: str) -> str:
    """"decoder" | "encoder" | "encoder-decoder" of a model key."""
    if name.startswith(LOCAL_PREFIX):
        return local_models()[name].kind or "?"
    return KINDS[read_card(MODELS_DIR / name)["family"]]


def local_model_problem(name: str, budget_bytes: int, device: str) -> str | None:
    """Why a local checkpoint cannot be loaded now (its parameters exceed the memory budget, or its folder is
    broken), checked from config.json before anything is allocated; None for shipped models and models that fit."""
    if not name.startswith(LOCAL_PREFIX):
        return None
    from core.hf_import import hf_parameter_bytes
    from core.measure.memory_guard import check_memory

    try:
        needed = hf_parameter_bytes(local_models()[name].path)
    except (ValueError, OSError) as err:
        return f"{name} cannot be loaded: {err}"
    decision = check_memory(f"Loading {name}'s weights", needed, budget_bytes=budget_bytes, device=device,
                            advice="Raise the memory budget in the settings, or pick a smaller model.")  # fmt: skip
    return None if decision.allowed else decision.message


@dataclass(frozen=True)
class TextForward:
    """A cached forward pass as numpy: attention ``(L, H, T, T)``, logits ``(T, V)``, hidden ``(L + 1, T, d)``."""

    attention: np.ndarray
    logits: np.ndarray
    hidden: np.ndarray
    seconds: float = 0.0  # the forward pass's wall time when it was computed (cached reruns reuse it)


def _to_numpy(run: TextRun, seconds: float = 0.0) -> TextForward:
    return TextForward(run.attention.double().numpy(), run.logits.double().numpy(), run.hidden.double().numpy(),
                       seconds)


@st.cache_data(max_entries=256, show_spinner=False)
def text_forward(name: str, ids: tuple[int, ...], device: str = "cpu", untrained_seed: int | None = None) -> TextForward:
    """:func:`core.text_model.run_text` of a shipped model (or its untrained twin when ``untrained_seed`` is set)
    on ``ids``, cached."""
    tm = load_text(name, device) if untrained_seed is None else load_untrained(name, untrained_seed, device)
    runs: list[TextRun] = []
    timing = time_call(lambda: runs.append(run_text(tm, ids)), device, repeats=1, warmup=False)
    return _to_numpy(runs[0], timing.median_s)


def weights_label(name: str, untrained_seed: int | None = None) -> str:
    """What a caption says about the weights a figure shows."""
    if untrained_seed is not None:
        return f"untrained {name} (same architecture, seeded random weights, seed {untrained_seed})"
    if name.startswith(LOCAL_PREFIX):
        return f"{name}'s own weights (a checkpoint on this machine)"
    return f"trained {name}"


def about_text_model(tm: TextModel) -> str:
    """One line about a shipped English model for a caption: size, data, held-out numbers."""
    card, cfg = tm.card, tm.model.config
    if card.get("source") == "local folder":
        return (f"{tm.name}: a local {card.get('architecture', '')} checkpoint, {cfg.n_layers} layers × {cfg.n_heads} "
                f"heads, d_model {cfg.d_model}, {card.get('n_parameters', 0):,} parameters, context {tm.max_len}.")
    held = card.get("held_out", {})
    size = (f"{cfg.n_layers} layers × {cfg.n_heads} heads, d_model {cfg.d_model}, {card.get('n_parameters', 0):,} "
            f"parameters, {tm.tokenizer.vocab_size:,}-token BPE, context {tm.max_len}")
    if tm.kind == "decoder" and "perplexity" in held:
        score = (f"held-out perplexity {held['perplexity']:.1f} (bigram baseline {held['bigram_perplexity']:.1f}, "
                 f"unigram {held['unigram_perplexity']:.1f})")
    elif "top1" in held:
        score = (f"held-out masked-token accuracy top-1 {held['top1']:.1%}, top-5 {held['top5']:.1%} (always the most "
                 f"frequent tokens: {held['most_frequent_top1']:.1%} / {held['most_frequent_top5']:.1%})")
    else:
        score = "no held-out numbers"
    return f"{tm.name}: {size}; trained on WordNet's glosses and examples; {score}."
