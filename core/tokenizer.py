"""Byte-level BPE, the tokenizer of GPT-2 (Radford et al. 2019, §2.2), written out: train, encode, decode, explain.

    text --split on special tokens ([MASK], ...)--> pieces
         --GPT-2's pre-tokenisation regex--------> words  ("The", " cat", " sat", "!")
         --UTF-8 bytes, each shown as a printable character ("Ġ" is the space byte)--> symbols
         --apply the learned merges, lowest rank first--> tokens --vocab.json--> ids

Every string is bytes underneath, so any Unicode text round-trips exactly: ``decode(encode(text)) == text``.
Training (Sennrich et al. 2016) starts from the 256 byte symbols and repeatedly merges the most frequent adjacent
pair in the corpus's word counts until the vocabulary is full; the merges, in order, *are* the tokenizer.

Files are GPT-2's: ``vocab.json`` (token string -> id) and ``merges.txt`` (one "a b" pair per line, rank order), so
GPT-2's own files load with :meth:`ByteLevelBPE.from_files`.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

# GPT-2's pre-tokenisation: contractions, optional-space + letters / digits / other symbols, then whitespace runs.
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
# Special tokens of our English models and their names in ``special_ids``.
SPECIAL_TOKENS: dict[str, str] = {
    "<|endoftext|>": "eot", "[PAD]": "pad", "[CLS]": "cls", "[SEP]": "sep", "[MASK]": "mask",
}  # fmt: skip


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves; the other 68 bytes
    (controls, space, ...) map to 256, 257, ... in byte order. So byte 0x20 (space) is shown as "Ġ" (U+0120)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def pre_tokenize(text: str) -> list[str]:
    """GPT-2's split into words, each in byte-symbol form: "Hi there" -> ["Hi", "Ġthere"]."""
    table = bytes_to_unicode()
    return ["".join(table[b] for b in word.encode("utf-8")) for word in GPT2_SPLIT.findall(text)]


def readable(symbols: str) -> str:
    """A token's byte symbols as text a learner reads ("Ġthe" -> " the"); a partial UTF-8 character shows as \\xNN."""
    back = unicode_to_bytes()
    return bytes(back[c] for c in symbols).decode("utf-8", errors="backslashreplace")


def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Every non-overlapping occurrence of ``pair`` in ``symbols``, left to right, joined into one symbol."""
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


@dataclass(frozen=True)
class MergeStep:
    """One merge applied to a word: the pair (left, right) of rank ``rank`` and the word's symbols after it."""

    rank: int
    left: str
    right: str
    symbols: tuple[str, ...]


class ByteLevelBPE:
    """A byte-level BPE tokenizer: ``vocab`` (token -> id), ``merges`` (pairs in rank order), special tokens.

    ``encode(text, max_merges=N)`` applies only the first N merges (N = 0: one token per byte), so a learner can
    watch the token count fall as the vocabulary grows. Special tokens written literally in the text (e.g. "[MASK]")
    become their single id.
    """

    def __init__(
        self, vocab: dict[str, int], merges: Sequence[tuple[str, str]], special_tokens: Iterable[str] = ()
    ) -> None:
        self.vocab = dict(vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.merges = [tuple(m) for m in merges]
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self.special_tokens = tuple(special_tokens)
        missing = [t for t in self.special_tokens if t not in self.vocab]
        if missing:
            raise ValueError(f"special tokens {missing} are not in the vocabulary")
        missing_bytes = [c for c in bytes_to_unicode().values() if c not in self.vocab]
        if missing_bytes:
            raise ValueError(f"the vocabulary lacks {len(missing_bytes)} of the 256 byte symbols")
        self.special_ids = {SPECIAL_TOKENS.get(t, t): self.vocab[t] for t in self.special_tokens}
        ordered = sorted(self.special_tokens, key=len, reverse=True)
        self._special_split = regex.compile("(" + "|".join(regex.escape(t) for t in ordered) + ")") if ordered else None
        self._word_cache: dict[str, tuple[str, ...]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # ---- encoding -------------------------------------------------------------------------------------------------
    def _split_special(self, text: str) -> list[str]:
        """text -> pieces, each either one special token or ordinary text (empty pieces dropped)."""
        if self._special_split is None:
            return [text] if text else []
        return [piece for piece in self._special_split.split(text) if piece]

    def bpe(self, word: str, max_merges: int | None = None) -> tuple[str, ...]:
        """One pre-tokenised word (byte symbols) -> its tokens: merge the lowest-rank adjacent pair, everywhere it
        occurs, until no adjacent pair is a merge of rank < max_merges."""
        if max_merges is None and word in self._word_cache:
            return self._word_cache[word]
        steps = self.explain_word(word, max_merges)
        symbols = steps[-1].symbols if steps else tuple(word)
        if max_merges is None:
            self._word_cache[word] = symbols
        return symbols

    def explain_word(self, word: str, max_merges: int | None = None) -> list[MergeStep]:
        """The merges applied to one word (byte-symbol form), in the order BPE applies them."""
        limit = len(self.merges) if max_merges is None else max_merges
        symbols, steps = list(word), []
        while len(symbols) > 1:
            rank, pair = min((self.ranks.get(p, limit), p) for p in zip(symbols, symbols[1:], strict=False))
            if rank >= limit:
                break
            symbols = merge_pair(symbols, pair)
            steps.append(MergeStep(rank, pair[0], pair[1], tuple(symbols)))
        return steps

    def explain(self, text: str) -> list[tuple[str, list[MergeStep]]]:
        """Each pre-tokenised word of ``text`` (readable form) with the merges applied to it, in order."""
        return [(readable(w), self.explain_word(w)) for piece in self._split_special(text)
                if piece not in self.special_tokens for w in pre_tokenize(piece)]  # fmt: skip

    def token_strings(self, text: str, max_merges: int | None = None) -> list[str]:
        """text -> the tokens in byte-symbol form (what vocab.json lists), special tokens kept whole."""
        out: list[str] = []
        for piece in self._split_special(text):
            if piece in self.special_tokens:
                out.append(piece)
            else:
                for word in pre_tokenize(piece):
                    out.extend(self.bpe(word, max_merges))
        return out

    def encode(self, text: str, max_merges: int | None = None) -> list[int]:
        """text -> ids (with ``max_merges``: only the first N merges applied; every such token is in the vocab)."""
        return [self.vocab[t] for t in self.token_strings(text, max_merges)]

    def tokens(self, text: str, max_merges: int | None = None) -> list[str]:
        """text -> one readable string per token (" the", "[MASK]"), as a learner should see them."""
        return [t if t in self.special_tokens else readable(t) for t in self.token_strings(text, max_merges)]

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text: concatenate the tokens' bytes and read them as UTF-8 (special tokens as written)."""
        back, out, pending = unicode_to_bytes(), [], bytearray()
        for i in ids:
            token = self.id_to_token[int(i)]
            if token in self.special_tokens:
                out.append(pending.decode("utf-8", errors="replace") + token)
                pending = bytearray()
            else:
                pending.extend(back[c] for c in token)
        out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)

    def readable_token(self, token_id: int) -> str:
        """One id -> the text it stands for (" the"), special tokens as written."""
        token = self.id_to_token[int(token_id)]
        return token if token in self.special_tokens else readable(token)

    # ---- files ----------------------------------------------------------------------------------------------------
    def save(self, folder: Path | str) -> tuple[Path, Path]:
        """Write GPT-2's two files into ``folder``: vocab.json and merges.txt. Returns their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
        vocab_path.write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        lines = ["#version: 0.2", *(f"{a} {b}" for a, b in self.merges)]
        merges_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return vocab_path, merges_path

    @classmethod
    def from_files(
        cls, vocab_path: Path | str, merges_path: Path | str, special_tokens: Iterable[str] | None = None
    ) -> ByteLevelBPE:
        """Load vocab.json + merges.txt (ours or GPT-2's). special_tokens=None: those of :data:`SPECIAL_TOKENS`
        present in the vocabulary."""
        try:
            vocab = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
            lines = Path(merges_path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read the tokenizer files: {err}") from err
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise ValueError(f"{Path(vocab_path).name} is not a token -> id mapping")
        merges = []
        for n, line in enumerate(lines, 1):
            if not line or (n == 1 and line.startswith("#version")):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(f"{Path(merges_path).name} line {n} is not a pair: {line!r}")
            merges.append((parts[0], parts[1]))
        specials = [t for t in SPECIAL_TOKENS if t in vocab] if special_tokens is None else list(special_tokens)
        return cls(vocab, merges, specials)

    # ---- training -------------------------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        special_tokens: Sequence[str] = tuple(SPECIAL_TOKENS),
        min_frequency: int = 2,
    ) -> ByteLevelBPE:
        """Learn merges from ``texts`` until the vocabulary (256 bytes + merges + special tokens) has
        ``vocab_size`` entries, or no pair occurs ``min_frequency`` times. Deterministic: ties go to the pair
        that sorts first.

        Word counts are kept, each merge updates only the words containing its pair (an index pair -> words), and
        a heap with lazy deletion finds the most frequent pair.
        """
        n_merges = vocab_size - 256 - len(special_tokens)
        if n_merges < 0:
            raise ValueError(f"vocab_size must be at least {256 + len(special_tokens)} (got {vocab_size})")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(pre_tokenize(text))
        words = [list(w) for w in counts]
        freqs = list(counts.values())
        pair_counts: Counter[tuple[str, str]] = Counter()
        where: dict[tuple[str, str], set[int]] = {}
        for idx, (word, freq) in enumerate(zip(words, freqs, strict=False)):
            for pair in zip(word, word[1:], strict=False):
                pair_counts[pair] += freq
                where.setdefault(pair, set()).add(idx)
        heap = [(-c, pair) for pair, c in pair_counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[str, str]] = []
        while len(merges) < n_merges and heap:
            neg, pair = heapq.heappop(heap)
            if pair_counts.get(pair, 0) != -neg:
                continue  # stale entry: the count changed since it was pushed
            if -neg < min_frequency:
                break
            merges.append(pair)
            changed: set[tuple[str, str]] = set()
            for idx in where.pop(pair, set()):
                word, freq = words[idx], freqs[idx]
                for p in zip(word, word[1:], strict=False):
                    pair_counts[p] -= freq
                    changed.add(p)
                merged = merge_pair(word, pair)
                words[idx] = merged
                for p in zip(merged, merged[1:], strict=False):
                    pair_counts[p] += freq
                    changed.add(p)
                    where.setdefault(p, set()).add(idx)
            pair_counts.pop(pair, None)
            for p in changed:
                if pair_counts.get(p, 0) > 0 and p != pair:
                    heapq.heappush(heap, (-pair_counts[p], p))
                elif p in pair_counts and pair_counts[p] <= 0:
                    del pair_counts[p]
        vocab = {c: i for i, c in enumerate(bytes_to_unicode()[b] for b in range(256))}
        for a, b in merges:
            vocab.setdefault(a + b, len(vocab))
        for token in special_tokens:
            vocab.setdefault(token, len(vocab))
        return cls(vocab, merges, special_tokens)
