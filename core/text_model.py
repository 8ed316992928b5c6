"""One entry point for every text model: :func:`load_text_model` returns a :class:`TextModel`.

    tm = load_text_model("english-gpt")            # a shipped model by name (models/<name>.json + .safetensors)
    ids = tm.tokenizer.encode("the cat sat")       # list[int]
    out = tm.model(torch.tensor([ids]), return_trace=True)
    out.logits                                     # (1, T, V)
    out.trace[l].self_attn.weights                 # (1, H, T, T): layer l's attention, every head

Every tokenizer a text model carries follows :class:`TextTokenizer` (encode, decode, the token strings a learner
sees, and the ids of the special tokens it has). The shipped task models read one character per token
(:class:`CharTokenizer`); the English models read byte-level BPE (:mod:`core.tokenizer`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from core.tokenizer import ByteLevelBPE
from core.train.checkpoints import MODELS_DIR, card_kind, load_model, shipped_names
from core.train.tasks import get_task
from core.train.vocab import SPECIALS, Vocab

Kind = Literal["decoder", "encoder", "encoder-decoder"]


@runtime_checkable
class TextTokenizer(Protocol):
    """What every text model's tokenizer offers.

    encode(text) -> ids; decode(ids) -> text; tokens(text) -> the token strings, one per id, as a learner should
    read them (bytes shown as text, a leading space kept). ``special_ids`` maps names such as "mask", "cls", "sep",
    "pad" to ids (empty when the tokenizer has none).
    """

    vocab_size: int
    special_ids: dict[str, int]

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def tokens(self, text: str) -> list[str]: ...


@dataclass(frozen=True)
class TextModel:
    """A loaded text model: its module (eval mode), tokenizer, card and family.

    kind: "decoder" (causal LM: ``model(ids)``), "encoder" (masked LM: ``model(ids)``) or "encoder-decoder"
    (``model(src, tgt_in)``). max_len: the longest sequence its positions cover. card: what the model's JSON card
    says (training data, held-out numbers, ...); ``card["name"]`` is the name a learner sees.
    """

    name: str
    kind: Kind
    model: nn.Module
    tokenizer: TextTokenizer
    max_len: int
    card: dict[str, Any] = field(default_factory=dict)


class CharTokenizer:
    """A task model's tokenizer: one character per token (:class:`core.train.vocab.Vocab`), specials named."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.vocab_size = len(vocab)
        self.special_ids = {name: vocab.id(sym) for name, sym in zip(("pad", "bos", "eos", "sep", "mask"), SPECIALS, strict=False)}

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.vocab.decode(ids)

    def tokens(self, text: str) -> list[str]:
        self.vocab.encode(text)  # raises UnknownCharacters naming what the model cannot read
        return list(text)


KINDS: dict[str, Kind] = {"decoder": "decoder", "encoder": "encoder", "seq2seq": "encoder-decoder"}


def shipped_text_models(models_dir: Path | str = MODELS_DIR) -> list[str]:
    """Names :func:`load_text_model` loads from ``models_dir``: the English models first, then the task models."""
    d = Path(models_dir)
    english = sorted(p.stem for p in d.glob("*.json")
                     if p.with_suffix(".safetensors").is_file() and card_kind(p).english)  # fmt: skip
    return english + shipped_names(d)


def load_tokenizer(name: str, models_dir: Path | str = MODELS_DIR) -> ByteLevelBPE:
    """A shipped BPE vocabulary by name: ``models_dir/<name>/vocab.json`` + ``merges.txt``."""
    folder = Path(models_dir) / name
    return ByteLevelBPE.from_files(folder / "vocab.json", folder / "merges.txt")


def load_text_model(name_or_path: str | Path, *, device: torch.device | str = "cpu") -> TextModel:
    """A shipped model by name ("english-gpt", "english-bert", "reverse", ...), or a local Hugging Face folder
    (GPT-2, BERT, Llama/Mistral: :func:`core.hf_import.load_hf_folder`) -> :class:`TextModel` in eval mode.

    Raises ValueError naming the model when no shipped model has that name, or saying what is wrong with a folder.
    """
    if isinstance(name_or_path, Path) or (os.sep in str(name_or_path) and Path(name_or_path).is_dir()):
        from core.hf_import import load_hf_folder  # imports TextModel from here: loaded on first use

        return load_hf_folder(name_or_path, device=device)
    name = str(name_or_path)
    stem = MODELS_DIR / name
    if not (stem.with_suffix(".json").is_file() and stem.with_suffix(".safetensors").is_file()):
        known = ", ".join(shipped_text_models())
        raise ValueError(f"no text model named {name!r}; shipped models: {known}")
    model, card = load_model(stem, device=device)
    if "tokenizer" in card:
        tokenizer: TextTokenizer = load_tokenizer(card["tokenizer"])
    else:
        tokenizer = CharTokenizer(get_task(card["task"]).vocab)
    return TextModel(card["name"], KINDS[card["family"]], model, tokenizer, model.config.max_len, card)


class EmptyText(ValueError):
    """The learner's text holds no token to read."""


@dataclass(frozen=True)
class EncodedText:
    """A learner's text as a model reads it.

    ids / tokens: what goes into the model, the model's framing included (the English GPT reads
    ``<|endoftext|>`` + text, as every training document began; the English BERT ``[CLS]`` + text + ``[SEP]``);
    a lone space before "[MASK]" is dropped (:func:`drop_spaces_before_masks`);
    tokens are readable strings, one per id. n_text_tokens: tokens the text itself made; cut_at: when the text was
    longer than the model's context, the index (into the text's tokens) where it was cut, else None.
    """

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    n_text_tokens: int
    cut_at: int | None = None

    @property
    def cut_message(self) -> str | None:
        """What a page says when the text was cut (None when it was not)."""
        if self.cut_at is None:
            return None
        return (f"Your text is {self.n_text_tokens} tokens long; this model reads at most {len(self.ids)} "
                f"(framing included), so it was cut after token {self.cut_at} ('{self.tokens[-1 - self._tail]}').")

    @property
    def _tail(self) -> int:
        return 1 if self.tokens and self.tokens[-1] == "[SEP]" else 0


def frame_ids(tm: TextModel) -> tuple[list[int], list[int]]:
    """(ids before, ids after) the text: the framing each English model was trained with; none for task models."""
    special = tm.tokenizer.special_ids
    if isinstance(tm.tokenizer, CharTokenizer):  # task models read their task's own layout
        return [], []
    if tm.kind == "encoder" and "cls" in special and "sep" in special:
        return [special["cls"]], [special["sep"]]
    if tm.kind == "decoder" and "bos" in special:  # Llama / Mistral begin every text with <s>
        return [special["bos"]], []
    if tm.kind == "decoder" and "eot" in special:
        return [special["eot"]], []
    return [], []


def drop_spaces_before_masks(tokenizer: TextTokenizer, ids: list[int]) -> list[int]:
    """Remove a lone space token right before each [MASK] (tokenizers without a mask token: ids unchanged).

    Byte-level BPE splits "the [MASK] because" into "the", " ", [MASK], " because": the learner's space becomes a
    token of its own. In training a [MASK] replaced a whole token such as " street", its leading space included, so
    the model never saw a bare space before a [MASK]; dropping it gives the model the input it was trained on
    (RoBERTa's tokenizer does the same with its mask token's ``lstrip``).
    """
    mask = tokenizer.special_ids.get("mask")
    if mask is None or not isinstance(tokenizer, ByteLevelBPE):
        return ids
    space = tokenizer.vocab.get(tokenizer.token_strings(" ")[0]) if tokenizer.token_strings(" ") else None
    return [i for t, i in enumerate(ids) if not (i == space and t + 1 < len(ids) and ids[t + 1] == mask)]


def encode_text(tm: TextModel, text: str) -> EncodedText:
    """The learner's text -> :class:`EncodedText` (framed, cut to the model's context). Raises :class:`EmptyText`
    for text without a token, and the task tokenizer's UnknownCharacters for characters a task model cannot read."""
    if not text.strip():
        raise EmptyText("The text box is empty: type a sentence for the model to read.")
    body = drop_spaces_before_masks(tm.tokenizer, tm.tokenizer.encode(text))
    before, after = frame_ids(tm)
    room = tm.max_len - len(before) - len(after)
    cut = room if len(body) > room else None
    ids = [*before, *body[:room], *after]
    tokenizer = tm.tokenizer
    readable_token = getattr(tokenizer, "readable_token", None)
    tokens = [readable_token(i) for i in ids] if readable_token else [tokenizer.decode([i]) for i in ids]
    return EncodedText(tuple(ids), tuple(tokens), len(body), cut)


def untrained_twin(tm: TextModel, seed: int = 0) -> TextModel:
    """The same architecture and tokenizer with freshly initialised weights drawn from ``seed``: what training
    started from (an explicit "untrained" comparison), in eval mode on the same device."""
    device = next(tm.model.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = type(tm.model)(tm.model.config)
    card = {"name": f"{tm.name} (untrained, seed {seed})", "untrained_seed": seed}
    return TextModel(card["name"], tm.kind, model.to(device).eval(), tm.tokenizer, tm.max_len, card)


@dataclass(frozen=True)
class TextRun:
    """One forward pass of a text model on one sequence (batch of one, no gradients).

    attention ``(L, H, T, T)``: every layer's self-attention weights; logits ``(T, V)``; hidden ``(L + 1, T,
    d_model)``: the residual stream entering layer 0 (embeddings + positions) and leaving each layer.
    """

    attention: torch.Tensor
    logits: torch.Tensor
    hidden: torch.Tensor


@torch.no_grad()
def run_text(tm: TextModel, ids: list[int] | tuple[int, ...]) -> TextRun:
    """Run a decoder or encoder text model on ``ids`` and keep what the pages show (see :class:`TextRun`)."""
    if tm.kind == "encoder-decoder":
        raise ValueError(f"{tm.name} is an encoder-decoder model: run it with a source and a target")
    device = next(tm.model.parameters()).device
    out = tm.model(torch.tensor([list(ids)], device=device), return_trace=True)
    attention = torch.stack([t.self_attn.weights[0] for t in out.trace])  # (L, H, T, T)
    hidden = torch.stack([out.trace[0].residual_in[0], *(t.residual_out[0] for t in out.trace)])  # (L + 1, T, d)
    return TextRun(attention.cpu(), out.logits[0].cpu(), hidden.cpu())
