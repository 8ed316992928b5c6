"""Models the pages can show: the shipped ones (loaded once per process, read-only) and this session's own.

Shipped models are shared by every session through ``st.cache_resource``: they are put in eval mode with gradients
off and are never trained or modified. A model the learner trains lives only in ``st.session_state[TRAINED_KEY]``
(a :class:`core.train.training.Trainer`), so one learner's run is never seen by another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import streamlit as st
from torch import nn

from core.generation import Decoding, Prediction, Sampling, decode, decode_task, predict
from core.train.checkpoints import MODELS_DIR, load_model, read_card, shipped_names
from core.train.evaluation import AttentionSnapshot, attention_snapshot
from core.train.tasks import Task, get_task
from core.train.training import ModelSpec, Trainer, build_model, model_config
from ui.text_models import load_text, load_untrained

SHOWN_FIRST = ("reverse", "induction", "dates", "masked", "copy", "sort")  # pickers list shipped models in this order
TRAINED_KEY = "_trained_run"  # the session's Trainer (model, task, history); not a widget, never in a link
YOURS = "yours"


@st.cache_resource(show_spinner=False)
def load_shipped(name: str, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model, card) of a shipped model on ``device``; shared, eval mode, requires_grad off: read it, never train it."""
    model, card = load_model(MODELS_DIR / name, device=device)
    model.requires_grad_(False)
    return model, card


@st.cache_data(show_spinner=False)
def shipped_cards() -> dict[str, dict[str, Any]]:
    """name -> JSON card of every shipped model."""
    return {name: read_card(MODELS_DIR / name) for name in shipped_names()}


@st.cache_data(show_spinner=False, max_entries=64)
def untrained_snapshot(task_name: str, spec: ModelSpec, seed: int, device: str) -> AttentionSnapshot:
    """Attention of a freshly initialised (seeded) model of ``spec`` on the task's example: what training starts from.

    Cached per (task, spec, seed, device): the model is built, run once and dropped; no session shares a model.
    """
    task = get_task(task_name)
    model = build_model(model_config(task, spec), seed=seed).to(device)
    return attention_snapshot(model, task, task.example())


def session_trainer() -> Trainer | None:
    """The Trainer of the model this session trained (None before the learner trains one)."""
    run = st.session_state.get(TRAINED_KEY)
    return run if isinstance(run, Trainer) and run.step > 0 else None


@dataclass(frozen=True)
class ModelChoice:
    """A model a page can run: its key (a shipped model's name, or :data:`YOURS`), the label a picker shows, its
    task, a one-line description, and the shipped model's name (None for the session's own model, which is never
    cached: it changes as the learner trains)."""

    model: nn.Module
    task: Task
    key: str
    label: str
    about: str
    shipped: str | None = None
    device: str = "cpu"


def input_label(task: Task) -> str:
    """The label of a text box whose text a task's model reads: which characters it takes (and, for the masked
    task, what '?' and '=' mean)."""
    allowed = task.input_chars or task.alphabet
    extra = ", '?' hides a letter, '=' separates the copies" if task.family == "encoder" else ""
    return f"Input (characters from '{allowed}'{extra})"


def shipped_model_options(families: tuple[str, ...] = ("decoder", "seq2seq", "encoder")) -> list[str]:
    """Names (picker keys) of the shipped models of ``families``, in :data:`SHOWN_FIRST` order."""
    names = sorted(shipped_cards(), key=lambda n: (SHOWN_FIRST.index(n) if n in SHOWN_FIRST else len(SHOWN_FIRST), n))
    return [name for name in names if shipped_cards()[name]["family"] in families]


def model_options(families: tuple[str, ...] = ("decoder", "seq2seq", "encoder")) -> list[str]:
    """Keys for a model picker: :data:`YOURS` first (when this session trained a model of ``families``), then the
    shipped models' names. A picker shows them through :func:`model_label`."""
    options = shipped_model_options(families)
    run = session_trainer()
    if run is not None and run.task.family in families:
        options.insert(0, YOURS)  # a stable key: the picker keeps it while training goes on
    return options


def model_label(key: str) -> str:
    """What a picker shows for a model key from :func:`model_options`: 'shipped · <name>', or 'yours · <task>' for
    the session's own model."""
    run = session_trainer()
    if key == YOURS and run is not None:
        return f"{YOURS} · {run.task.name}"
    return f"shipped · {key}"


def resolve_model(key: str, device: str = "cpu") -> ModelChoice:
    """The :class:`ModelChoice` for a key from :func:`model_options` (shipped models loaded on ``device``; the
    session's own model stays where it was trained)."""
    run = session_trainer()
    if key == YOURS and run is not None:
        about = f"Your {run.task.name} model, trained in this session for {run.step} of {run.cfg.steps} steps."
        return ModelChoice(run.model, run.task, key, model_label(key), about)
    model, card = load_shipped(key, device)
    held = card["held_out"]
    about = (f"Shipped {card['task']} model ({card['model_class']}, {card['n_parameters']:,} parameters, "
             f"{card['config']['positional']} positions). Held-out ({held['n']} examples): {held['exact_match']:.1%} "
             f"exact match, {held['token_accuracy']:.1%} of answer tokens right. Trained "
             f"{card['training_time_s']:.0f} s from seed {card['seed']}.")  # fmt: skip
    return ModelChoice(model, get_task(card["task"]), key, model_label(key), about, key, device)


def _numpy_prediction(p: Prediction) -> Prediction:
    as_np = lambda t: None if t is None else t.numpy()  # noqa: E731
    return dataclasses.replace(p, self_attention=as_np(p.self_attention), cross_attention=as_np(p.cross_attention),
                               encoder_attention=as_np(p.encoder_attention))  # fmt: skip


@st.cache_data(max_entries=256, show_spinner=False)
def _shipped_prediction(name: str, device: str, text: str) -> Prediction:
    model, card = load_shipped(name, device)
    return _numpy_prediction(predict(model, get_task(card["task"]), text))


def run_prediction(choice: ModelChoice, text: str) -> Prediction:
    """:func:`core.generation.predict` (attention as numpy), cached per shipped model, device and input.
    Raises the task's UnknownCharacters / InvalidInput for bad input."""
    if choice.shipped is not None:
        return _shipped_prediction(choice.shipped, choice.device, text)
    return _numpy_prediction(predict(choice.model, choice.task, text))


@st.cache_data(max_entries=256, show_spinner=False)
def _shipped_decodings(name: str, device: str, text: str, sampling: Sampling, seed: int) -> dict[bool, Decoding]:
    model, card = load_shipped(name, device)
    return _decodings(model, get_task(card["task"]), text, sampling, seed)


def _decodings(model: nn.Module, task: Task, text: str, sampling: Sampling, seed: int) -> dict[bool, Decoding]:
    return {cache: decode_task(model, task, text, sampling=sampling, use_cache=cache, seed=seed)
            for cache in (True, False)}  # fmt: skip


def run_decodings(choice: ModelChoice, text: str, sampling: Sampling, seed: int) -> dict[bool, Decoding]:
    """{use_cache: Decoding} for both modes, the same seed; timed once per shipped model, input and sampling
    (cached), every run for the session's own model."""
    if choice.shipped is not None:
        return _shipped_decodings(choice.shipped, choice.device, text, sampling, seed)
    return _decodings(choice.model, choice.task, text, sampling, seed)


@st.cache_data(max_entries=64, show_spinner="Generating…")
def english_decodings(name: str, prompt: tuple[int, ...], max_new_tokens: int, sampling: Sampling, seed: int,
                      device: str = "cpu", untrained_seed: int | None = None) -> dict[bool, Decoding]:
    """{use_cache: Decoding} of a shipped English model (its untrained twin when ``untrained_seed`` is set)
    continuing ``prompt``, both modes with the same seed, stopping at <|endoftext|>; timed once per
    (model, prompt, length, sampling, seed, weights), then cached."""
    tm = load_text(name, device) if untrained_seed is None else load_untrained(name, untrained_seed, device)
    stop = tm.tokenizer.special_ids.get("eot", tm.tokenizer.special_ids.get("eos"))
    return {cache: decode(tm.model, list(prompt), max_new_tokens, sampling=sampling, use_cache=cache, seed=seed,
                          stop_token=stop) for cache in (True, False)}  # fmt: skip
