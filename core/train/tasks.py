"""Synthetic tasks whose solutions have a clear attention pattern (vocabularies: ``core.train.vocab``).

    task        family    example (source -> target)        the attention that solves it
    copy        decoder   "abc"  -> "abc"                   output i looks at input i (a shifted diagonal)
    reverse     decoder   "abc"  -> "cba"                   output i looks at input n-1-i (the anti-diagonal)
    sort        decoder   "cab"  -> "abc"                   output i looks at the next-larger input letter
    induction   decoder   "kqbz" -> "qbz" after "kqbz k"    find the earlier copy of the current token, copy the next
    dates       seq2seq   "2 Nov 2026" -> "2026-11-02"      cross-attention aligns year, month, day
    masked      encoder   "ab?d=a?cd" -> "abcd=abcd"        a hidden letter reads its twin in the other copy

Decoder-only sequences are ``^ prompt target``: e.g. ``^abc=cba$`` (BOS, input, SEP, output, EOS); the loss is on the
target positions only (the model is never asked to predict the random input). Every task splits its examples
into train / held-out by a hash of the input, so a held-out example is never seen in training.
"""

from __future__ import annotations

import calendar
import random
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor

from core.train.vocab import BOS, EOS, MASK, PAD, SEP, InvalidInput, UnknownCharacters, Vocab

IGNORE = -100  # target id that carries no loss (F.cross_entropy's ignore_index)
HELD_OUT_MODULUS = 10  # 1 input in 10 (by hash) belongs to the held-out split
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Example:
    """source: what the learner types; target: the expected output (for ``masked``: the full unmasked text)."""

    source: str
    target: str


@dataclass(frozen=True)
class Batch:
    """Padded tensors for one training step.

    tokens ``(B, T)``: model input (the decoder input for seq2seq), padded with PAD at the end;
    targets ``(B, T)``: the id to predict at each position, IGNORE where there is no loss;
    lengths ``(B,)``: real tokens per row; src ``(B, S)``, src_lengths ``(B,)``: encoder input (seq2seq only).
    """

    tokens: Tensor
    targets: Tensor
    lengths: Tensor
    src: Tensor | None = None
    src_lengths: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Batch(move(self.tokens), move(self.targets), move(self.lengths), move(self.src), move(self.src_lengths))


def _pad(rows: list[list[int]], value: int) -> Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)  # (B, width)


def is_held_out(task_name: str, source: str) -> bool:
    """Stable split of the input space: crc32(task, input) mod 10 == 0 is held out (never trained on)."""
    return zlib.crc32(f"{task_name}:{source}".encode()) % HELD_OUT_MODULUS == 0


@dataclass(frozen=True)
class Task(ABC):
    """A synthetic task: how to draw an example, what the right answer is, and how to turn examples into tensors."""

    name: str = ""
    family: str = "decoder"  # "decoder" (DecoderOnlyModel) | "seq2seq" (EncoderDecoderModel) | "encoder"
    alphabet: str = LETTERS[:16]
    min_len: int = 1
    max_len: int = 8
    description: str = ""
    default_input: str = ""
    input_chars: str = field(default="", repr=False)  # characters a learner may type (default: the alphabet)

    @cached_property
    def vocab(self) -> Vocab:
        return Vocab.from_alphabet(self.alphabet)

    @abstractmethod
    def draw(self, rng: random.Random) -> Example:
        """One random example (either split)."""

    @abstractmethod
    def answer(self, source: str) -> str | None:
        """The right output for ``source`` (None when the input does not determine it)."""

    @property
    @abstractmethod
    def max_positions(self) -> int:
        """Longest sequence a model for this task must take (its ``max_len``)."""

    def split_key(self, example: Example) -> str:
        return example.source

    def example(self, text: str | None = None) -> Example:
        """``text`` (default: the task's example input) with its right answer, e.g. to probe a model's attention."""
        text = self.default_input if text is None else text
        return Example(text, self.answer(text))

    def sample(self, rng: random.Random, n: int, split: str = "train") -> list[Example]:
        """``n`` examples from one split ("train" or "test"), drawn with ``rng``."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        out: list[Example] = []
        while len(out) < n:
            ex = self.draw(rng)
            if is_held_out(self.name, self.split_key(ex)) == (split == "test"):
                out.append(ex)
        return out

    def check_input(self, text: str) -> None:
        """Raise :class:`UnknownCharacters` / :class:`InvalidInput` with what to do, or return when usable."""
        allowed = self.input_chars or self.alphabet
        unknown = "".join(c for c in text if c not in allowed)
        if unknown:
            raise UnknownCharacters(unknown, allowed, f"the {self.name} model")
        if not self.min_len <= len(text) <= self.max_len:
            raise InvalidInput(
                f"the {self.name} model was trained on inputs of {self.min_len} to {self.max_len} characters; "
                f"yours has {len(text)}"
            )


@dataclass(frozen=True)
class PromptTask(Task):
    """Decoder-only tasks: the sequence is ``prompt(source) + continuation(source)``; loss on the continuation."""

    ends_with_eos: ClassVar[bool] = True  # False: the continuation has a known length and no EOS

    def prompt(self, source: str) -> str:
        return BOS + source + SEP

    def continuation(self, source: str) -> str:
        """What the model must write after the prompt (the answer, then EOS)."""
        return self.answer(source) + EOS

    @property
    def max_positions(self) -> int:
        longest = LETTERS[: self.max_len]
        return len(self.prompt(longest) + self.continuation(longest)) - 1  # the last token is only a target

    def batch(self, examples: list[Example]) -> Batch:
        """tokens = sequence[:-1], targets = sequence[1:] on continuation positions, IGNORE on the prompt."""
        rows, targets = [], []
        for ex in examples:
            prompt = self.vocab.encode(self.prompt(ex.source))
            cont = self.vocab.encode(self.continuation(ex.source))
            seq = prompt + cont
            rows.append(seq[:-1])
            targets.append([IGNORE] * (len(prompt) - 1) + cont)
        lengths = torch.tensor([len(r) for r in rows])
        return Batch(_pad(rows, self.vocab.id(PAD)), _pad(targets, IGNORE), lengths)


@dataclass(frozen=True)
class StringTask(PromptTask):
    """copy / reverse / sort a random string of letters (repeats allowed)."""

    def draw(self, rng: random.Random) -> Example:
        source = "".join(rng.choices(self.alphabet, k=rng.randint(self.min_len, self.max_len)))
        return Example(source, self.answer(source))

    def answer(self, source: str) -> str:
        return {"copy": source, "reverse": source[::-1], "sort": "".join(sorted(source))}[self.name]


@dataclass(frozen=True)
class InductionTask(PromptTask):
    """A random sequence of distinct letters, then its repeat: ``^ s s[0]`` -> ``s[1:]``.

    The first letter of the repeat is given (nothing announces that a repeat begins); each next letter is predicted
    by an induction head: find the earlier occurrence of the current letter and copy the letter after it.
    The score counts the repeated half from its second letter on.
    """

    ends_with_eos: ClassVar[bool] = False

    def draw(self, rng: random.Random) -> Example:
        source = "".join(rng.sample(self.alphabet, rng.randint(self.min_len, self.max_len)))
        return Example(source, self.answer(source))

    def prompt(self, source: str) -> str:
        return BOS + source + source[0]

    def continuation(self, source: str) -> str:
        return source[1:]

    def answer(self, source: str) -> str:
        return source[1:]

    def check_input(self, text: str) -> None:
        super().check_input(text)
        repeated = sorted({c for c in text if text.count(c) > 1})
        if repeated:
            raise InvalidInput(f"use each letter once (repeated: {', '.join(repeated)}), so the repeat is unambiguous")


MONTHS = tuple(calendar.month_abbr[1:])  # ("Jan", ..., "Dec")


@dataclass(frozen=True)
class DateTask(Task):
    """seq2seq: "2 Nov 2026" or "02 Nov 2026" -> "2026-11-02".

    Teacher forcing: decoder input ``^2026-11-02``, decoder target ``2026-11-02$``.
    """

    first_year: int = 1900
    last_year: int = 2099

    def draw(self, rng: random.Random) -> Example:
        year, month = rng.randint(self.first_year, self.last_year), rng.randint(1, 12)
        day = rng.randint(1, calendar.monthrange(year, month)[1])
        day_text = f"{day:02d}" if rng.random() < 0.5 else str(day)
        source = f"{day_text} {MONTHS[month - 1]} {year}"
        return Example(source, self.answer(source))

    def answer(self, source: str) -> str | None:
        parts = source.split(" ")
        if len(parts) != 3 or parts[1] not in MONTHS or not (parts[0].isdigit() and parts[2].isdigit()):
            return None
        return f"{int(parts[2]):04d}-{MONTHS.index(parts[1]) + 1:02d}-{int(parts[0]):02d}"

    @property
    def max_positions(self) -> int:
        return max(self.max_len, 11)  # source "dd Mon yyyy" and decoder input "^yyyy-mm-dd"

    def check_input(self, text: str) -> None:
        super().check_input(text)
        if self.answer(text) is None:
            raise InvalidInput('write a date as "day Mon year", e.g. "2 Nov 2026" (Mon: ' + " ".join(MONTHS) + ")")

    def batch(self, examples: list[Example]) -> Batch:
        """Teacher forcing: decoder input ``BOS + target``, decoder targets ``target + EOS``."""
        src = [self.vocab.encode(ex.source) for ex in examples]
        tgt = [self.vocab.encode(BOS + ex.target + EOS) for ex in examples]
        tokens, targets = [t[:-1] for t in tgt], [t[1:] for t in tgt]
        return Batch(
            _pad(tokens, self.vocab.id(PAD)), _pad(targets, IGNORE), torch.tensor([len(t) for t in tokens]),
            _pad(src, self.vocab.id(PAD)), torch.tensor([len(s) for s in src]),
        )  # fmt: skip


@dataclass(frozen=True)
class MaskedTask(Task):
    """encoder-only: ``s=s`` with some letters hidden (``?``); each hidden letter is recovered from its twin.

    For every index of s, with probability ``mask_rate`` one of its two copies (never both) is replaced by MASK.
    """

    mask_rate: float = 0.3

    def draw(self, rng: random.Random) -> Example:
        s = "".join(rng.choices(self.alphabet, k=rng.randint(self.min_len, self.max_len)))
        n, chars = len(s), list(s + SEP + s)
        hidden = [i for i in range(n) if rng.random() < self.mask_rate] or [rng.randrange(n)]
        for i in hidden:
            chars[i + (n + 1) * rng.randint(0, 1)] = MASK
        return Example("".join(chars), s + SEP + s)

    def split_key(self, example: Example) -> str:
        return example.target.split(SEP)[0]

    def answer(self, source: str) -> str | None:
        """Each ``?`` filled from the other copy (None if both copies of a letter are hidden or shapes differ)."""
        left, sep, right = source.partition(SEP)
        if not sep or len(left) != len(right):
            return None
        filled = [b if a == MASK else a for a, b in zip(left, right, strict=True)]
        if MASK in filled:
            return None
        return "".join(filled) + SEP + "".join(filled)

    @property
    def max_positions(self) -> int:
        return 2 * self.max_len + 1

    def check_input(self, text: str) -> None:
        allowed = self.alphabet + MASK + SEP
        unknown = "".join(c for c in text if c not in allowed)
        if unknown:
            raise UnknownCharacters(unknown, allowed, f"the {self.name} model")
        if MASK not in text:
            raise InvalidInput(f"hide at least one letter with {MASK!r}, e.g. 'ab?d=abcd'")
        if len(text) > self.max_positions:
            raise InvalidInput(f"at most {self.max_positions} characters (two copies of up to {self.max_len} letters)")

    def batch(self, examples: list[Example]) -> Batch:
        """tokens = the masked text; targets = the hidden letters at MASK positions, IGNORE elsewhere."""
        rows, targets = [], []
        for ex in examples:
            rows.append(self.vocab.encode(ex.source))
            truth = self.vocab.encode(ex.target)
            targets.append([t if c == MASK else IGNORE for c, t in zip(ex.source, truth, strict=True)])
        return Batch(_pad(rows, self.vocab.id(PAD)), _pad(targets, IGNORE), torch.tensor([len(r) for r in rows]))


TASKS: dict[str, Task] = {
    "copy": StringTask("copy", "decoder", LETTERS[:16], 1, 8, "Copy a string: abc -> abc.", "hello"),
    "reverse": StringTask("reverse", "decoder", LETTERS[:16], 1, 8, "Reverse a string: abc -> cba.", "abcdefgh"),
    "sort": StringTask("sort", "decoder", LETTERS[:16], 1, 8, "Sort the letters: cab -> abc.", "dbfaec"),
    "induction": InductionTask(
        "induction", "decoder", LETTERS, 4, 12,
        "A random sequence repeated: predict each letter of the repeat from its earlier occurrence.", "kqbzxtm",
    ),
    "dates": DateTask(
        "dates", "seq2seq", "0123456789 -" + "".join(MONTHS), 10, 11,
        'Rewrite a date: "2 Nov 2026" -> "2026-11-02".', "22 Nov 2026",
        input_chars="0123456789 " + "".join(MONTHS),
    ),
    "masked": MaskedTask(
        "masked", "encoder", LETTERS[:16], 2, 10,
        "Fill in the hidden letters (?) of two copies of a string.", "ab?de=a?cd?",
    ),
}  # fmt: skip


def get_task(name: str) -> Task:
    """The task named ``name`` (ValueError listing the names otherwise)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {list(TASKS)}")
    return TASKS[name]
