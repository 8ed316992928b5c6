"""Character-level vocabularies of the synthetic tasks: the special symbols, encode/decode, and the errors a
learner's text can raise.

    ids = [specials (pad _, bos ^, eos $, sep =, mask ?)] + sorted(task alphabet)
    encode("ab") = [index("a"), index("b")],   decode(encode(text)) = text
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

PAD, BOS, EOS, SEP, MASK = "_", "^", "$", "=", "?"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, SEP, MASK)


class UnknownCharacters(ValueError):
    """Text holds characters outside a vocabulary; ``chars`` lists them (first occurrence order)."""

    def __init__(self, chars: str, allowed: str, what: str = "this model") -> None:
        self.chars = tuple(dict.fromkeys(chars))
        self.allowed = allowed
        named = ", ".join(repr(c) for c in self.chars)
        super().__init__(f"unknown character{'s' * (len(self.chars) > 1)} {named}: {what} reads only {allowed!r}")


class InvalidInput(ValueError):
    """Text made of known characters that the task still cannot take (too long, wrong shape); says what to do."""


@dataclass(frozen=True)
class Vocab:
    """Character vocabulary: the specials (pad, bos, eos, sep, mask) first, then the task's characters."""

    symbols: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.symbols)) != len(self.symbols) or any(len(s) != 1 for s in self.symbols):
            raise ValueError(f"vocabulary symbols must be distinct single characters: {self.symbols}")

    @classmethod
    def from_alphabet(cls, alphabet: str) -> Vocab:
        """The specials, then the alphabet's other characters sorted."""
        return cls(SPECIALS + tuple(sorted(set(alphabet) - set(SPECIALS))))

    @cached_property
    def index(self) -> dict[str, int]:
        """symbol -> id."""
        return {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols)

    def id(self, symbol: str) -> int:
        """The id of one symbol."""
        return self.index[symbol]

    def encode(self, text: str) -> list[int]:
        """Characters -> ids; raises :class:`UnknownCharacters` naming every character not in the vocabulary."""
        unknown = [c for c in text if c not in self.index]
        if unknown:
            raise UnknownCharacters("".join(unknown), "".join(self.symbols))
        return [self.index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids (a list or a 1-D tensor ``(T,)``) -> characters."""
        return "".join(self.symbols[int(i)] for i in ids)
