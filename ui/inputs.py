"""The one input picker: what a page runs on — your sentence, random tokens, or a trained model and its input.

Every page that reads text draws its boxes here (no page calls ``st.text_input`` itself) and gets back a frozen
:class:`PickedInput`. Widgets are identified by value: the source radio's options are :data:`Source` kinds and the
model picker's are model keys (``ui.models.model_options``); the labels a learner reads come from ``format_func``.
Keys are the page's slug plus a fixed suffix, so deep links (``ui.deeplink``) restore them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.lab.toy_inputs import MAX_TOKENS, TokenizeError, checked_tokens, random_tokens
from core.text_model import EncodedText, encode_text
from core.train.tasks import Task
from course.markdown_text import escape_markdown
from ui.models import ModelChoice, input_label, model_label, model_options, resolve_model, shipped_model_options
from ui.settings import get_settings
from ui.text_models import (
    DEFAULT_SENTENCE,
    english_model_names,
    load_text,
    local_model_problem,
    local_models,
    model_kind,
)

Source = Literal["english", "sentence", "random", "model"]
SOURCE_LABELS: dict[str, str] = {
    "english": "English model", "sentence": "Your words, random weights", "random": "Random tokens", "model": "A task model",
}  # fmt: skip
KIND_LABELS = {"decoder": "GPT-style, causal", "encoder": "BERT-style, bidirectional"}
ALL_FAMILIES = ("decoder", "seq2seq", "encoder")


@dataclass(frozen=True)
class SentenceBox:
    """A box of words (lower-cased, split on whitespace): label, default text, limits, key (after ``<slug>_``)."""

    label: str = "Sentence"
    default: str = "the cat sat on the mat because it was tired"
    max_words: int = MAX_TOKENS
    max_chars: int = 2000
    key: str = "text"


@dataclass(frozen=True)
class ModelBox:
    """A model picker and the box of the chosen model's input.

    ``families`` limit the models; ``yours`` offers the session's own model first (when trained). The input box's key
    is ``<slug>_<text_key>_<task name>`` (one box per task); ``max_chars=0`` draws no box (the task's example is the
    input). ``note`` is a caption drawn between the picker and the box. ``missing``: what the page says (as an
    ``st.warning``, or ``st.info`` when ``missing_is_info``) before it stops, when no model fits.
    """

    label: str = "Model"
    key: str = "model"
    families: tuple[str, ...] = ALL_FAMILIES
    yours: bool = True
    text_key: str = "text"
    max_chars: int = 40
    note: Callable[[ModelChoice], str] | None = None
    missing: str = "No model available."
    missing_is_info: bool = False


@dataclass(frozen=True)
class EnglishBox:
    """A shipped English model (by name, of ``kinds``), a box for the learner's text and, when ``untrained``, a
    "Weights" radio offering the model's untrained twin (seeded, same architecture) as an explicit comparison.
    Widget keys: ``<slug>_<key>`` (model), ``<slug>_<text_key>`` (text), ``<slug>_<key>_weights``."""

    label: str = "English model"
    key: str = "english"
    kinds: tuple[str, ...] = ("decoder", "encoder")
    text_label: str = "Your text"
    default: str = DEFAULT_SENTENCE
    max_chars: int = 600
    text_key: str = "english_text"
    untrained: bool = False


@dataclass(frozen=True)
class PickedInput:
    """What the learner picked: the source and what it carries.

    ``text``: the sentence or the model's input as typed ('' for random tokens). ``words``: the sentence's words, the
    random tokens' names t0, t1, …, or an English model's tokens (() for a task model: its task tokenizes). ``model``:
    the chosen task model (source 'model'); ``model.key`` is the picker's value. ``english``: the chosen English
    model's name, ``encoded`` the text as it reads it (framed, maybe cut: say ``encoded.cut_message``),
    ``untrained_seed``: set when the learner chose the untrained twin. ``problem``: why the text cannot be used (None when it can); the
    page says it where its warning belongs (:func:`stop_on_problem`).
    """

    source: Source
    text: str = ""
    words: tuple[str, ...] = ()
    model: ModelChoice | None = None
    problem: str | None = None
    english: str | None = None
    encoded: EncodedText | None = None
    untrained_seed: int | None = None


def pick_input(slug: str, *, sentence: SentenceBox | None = SentenceBox(), random: bool = False,
               model: ModelBox | None = None, english: EnglishBox | None = None,
               where: DeltaGenerator | Sequence[DeltaGenerator] | None = None,
               text_at: DeltaGenerator | None = None, device: str = "cpu", seed: int = 0) -> PickedInput:
    """Draw the input picker of page ``slug`` and return what was picked.

    With more than one source, a radio 'Input' (key ``<slug>_mode``) sits in the left of ``where`` (two columns;
    default: new ones) and the source's own widget in the right; with one source, its widget goes to ``where``
    (default: right here). A model's input box goes to ``text_at`` (default: right below the picker).
    """
    offered_sources = (("english", english), ("sentence", sentence), ("random", random), ("model", model))
    sources = [s for s, offered in offered_sources if offered and (s != "english" or english_model_names(offered.kinds))]
    if not sources:  # only English models were asked for and none is shipped
        st.info("No English model found in models/ (run `python scripts/train_models.py --only english-bpe "
                "--only english-gpt --only english-bert`).")
        st.stop()
    if len(sources) > 1:
        left, where = where or st.columns(2)
        source = left.radio("Input", sources, format_func=lambda s: SOURCE_LABELS.get(s, s), horizontal=True,
                            key=f"{slug}_mode")
    else:
        source, where = sources[0], where or st
    if source == "english":
        return read_english(slug, english, where, text_at or st, device, seed)
    if source == "sentence":
        return read_sentence(slug, sentence, where)
    if source == "random":
        n = where.slider("Sequence length", 2, 24, 8, key=f"{slug}_length")
        return PickedInput("random", words=tuple(random_tokens(n)))
    return _read_model(slug, model, where, text_at or st, device)


def read_english(slug: str, box: EnglishBox, where: DeltaGenerator, text_at: DeltaGenerator, device: str,
                 seed: int) -> PickedInput:
    """The English source: a model picker (and the trained / untrained radio) in ``where``, the text box in
    ``text_at``; the text encoded as the model reads it (empty text or unreadable text: a problem)."""
    names = english_model_names(box.kinds)
    name = where.selectbox(box.label, names, key=f"{slug}_{box.key}",
                           format_func=lambda n: f"{n} ({KIND_LABELS.get(model_kind(n), model_kind(n))})")
    skipped = [m.problem for m in local_models().values() if m.problem]
    if skipped:
        where.caption(escape_markdown("Checkpoints found but not offered: " + "; ".join(skipped)))
    untrained_seed = None
    if box.untrained:
        weights = where.radio("Weights", ["trained", "untrained"], horizontal=True, key=f"{slug}_{box.key}_weights",
                              help="Untrained: the same architecture and tokenizer with seeded random weights "
                                   f"(seed {seed}), what training started from.")  # fmt: skip
        untrained_seed = seed if weights == "untrained" else None
    text_at = text_at.container()  # the box and its echo together (``text_at`` may be an ``st.empty`` slot)
    text = text_at.text_input(box.text_label, box.default, max_chars=box.max_chars, key=f"{slug}_{box.text_key}")
    refused = local_model_problem(name, get_settings().memory_budget_bytes, device)  # before loading anything
    if refused:
        return PickedInput("english", text, english=name, untrained_seed=untrained_seed, problem=refused)
    try:
        encoded = encode_text(load_text(name, device), text)
    except ValueError as err:  # EmptyText says what to do
        return PickedInput("english", text, english=name, untrained_seed=untrained_seed, problem=str(err))
    text_at.text(f"The model reads {len(encoded.ids)} tokens (its framing included) of: {text}")  # as text, never HTML
    return PickedInput("english", text, encoded.tokens, english=name, encoded=encoded, untrained_seed=untrained_seed)


def read_sentence(slug: str, box: SentenceBox, where: DeltaGenerator) -> PickedInput:
    """The sentence source: ``box`` drawn in ``where``, its words checked (a problem names the limit)."""
    text = where.text_input(box.label, box.default, max_chars=box.max_chars, key=f"{slug}_{box.key}")
    try:
        return PickedInput("sentence", text, tuple(checked_tokens(text, box.max_words)))
    except TokenizeError as err:
        return PickedInput("sentence", text, problem=str(err))


def _read_model(slug: str, box: ModelBox, where: DeltaGenerator, text_at: DeltaGenerator,
                device: str) -> PickedInput:
    options = model_options(box.families) if box.yours else shipped_model_options(box.families)
    if not options:
        (st.info if box.missing_is_info else st.warning)(box.missing)
        st.stop()
    # Labels fixed now (format_func may be called outside this run); a label given back as a value maps to itself.
    labels = {key: model_label(key) for key in options}
    key = where.selectbox(box.label, options, format_func=lambda k: labels.get(k, k), key=f"{slug}_{box.key}")
    choice = resolve_model(key, device)
    if box.note is not None:
        st.caption(escape_markdown(box.note(choice)))
    if not box.max_chars:
        return PickedInput("model", choice.task.default_input, model=choice)
    text = task_text(choice.task, f"{slug}_{box.text_key}_{choice.task.name}", box.max_chars, text_at)
    try:
        choice.task.check_input(text)
    except ValueError as err:  # UnknownCharacters / InvalidInput say what is wrong and what to type
        return PickedInput("model", text, model=choice,
                           problem=f"This input cannot be used. {escape_markdown(str(err))}. Edit the input above.")
    return PickedInput("model", text, model=choice)


def task_text(task: Task, key: str, max_chars: int, where: DeltaGenerator | None = None) -> str:
    """A box for the input of ``task``'s model: its label names the characters the model takes."""
    return (where or st).text_input(input_label(task), task.default_input, key=key, max_chars=max_chars)


def stop_on_problem(picked: PickedInput) -> None:
    """Say why the picked text cannot be used (a warning) and stop the page; do nothing when it can be used."""
    if picked.problem is not None:
        st.warning(picked.problem)
        st.stop()
