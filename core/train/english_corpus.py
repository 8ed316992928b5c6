"""The English corpus of the English models: WordNet 3.0's glosses and usage examples, from Debian's `wordnet-base`.

Why WordNet: plain modern English in short, self-contained documents, served by Debian (``apt-get install
wordnet-base``; about 1.5 M words), under a permissive licence (below). Each synset line of
``/usr/share/wordnet/data.{noun,verb,adj,adv}`` ends in ``| gloss``, where the gloss is a definition followed by
quoted usage examples::

    00006150 03 n 01 parent 0 001 @ 00004475 n 0000 | an organism (plant or animal) from which younger ones ...

One synset becomes one document: ``"<lemma>: <definition>."`` then each example on its own line. Cleaning: Unicode
NFC, underscores in lemmas to spaces, whitespace collapsed, empty examples dropped; exact duplicate documents kept
once. Documents are split train / valid / test with a fixed seed (so no document's sentences cross splits). The
corpus is prepared at training time by ``scripts/train_models.py`` and never committed; the model cards record
:meth:`Corpus.card`.

Licence (WordNet 3.0, Princeton University): use, copy, modify and distribute for any purpose without fee, provided
the copyright notice "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved." appears on all
copies; no warranty.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_FILES: tuple[str, ...] = ("data.noun", "data.verb", "data.adj", "data.adv")
WORDNET_SOURCE = {
    "name": "WordNet 3.0 glosses and usage examples",
    "package": "Debian wordnet-base (1:3.0-37), /usr/share/wordnet/data.{noun,verb,adj,adv}",
    "licence": "WordNet 3.0 licence (Princeton University): free use, copy, modification and distribution with the "
    "notice 'WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.'",
}
SPLIT_SEED = 2026
_QUOTED = re.compile(r'"([^"]*)"')
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # adjective position markers such as "galore(ip)"


def clean(text: str) -> str:
    """NFC-normalise and collapse whitespace."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def parse_synset_line(line: str) -> str | None:
    """One line of a WordNet data file -> one document (None for the licence header lines, which start with "  ").

    ``"lemma: definition."`` then one line per quoted usage example.
    """
    if line.startswith("  ") or " | " not in line:
        return None
    fields, gloss = line.split(" | ", 1)
    parts = fields.split()
    lemma = clean(_ADJ_MARKER.sub("", parts[4]).replace("_", " "))
    examples = [clean(e) for e in _QUOTED.findall(gloss)]
    definition = clean(_QUOTED.sub("", gloss)).strip(" ;")
    lines = [f"{lemma}: {definition}." if definition else f"{lemma}."]
    lines += [e for e in examples if e]
    return "\n".join(lines)


def wordnet_documents(folder: Path | str = WORDNET_DIR) -> list[str]:
    """Every synset of the four data files as a document, in file order."""
    folder = Path(folder)
    missing = [name for name in WORDNET_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet data files {missing} not found in {folder}; install them with: apt-get install wordnet-base"
        )
    docs = []
    for name in WORDNET_FILES:
        with open(folder / name, encoding="utf-8", errors="replace") as f:
            docs += [d for d in map(parse_synset_line, f) if d]
    return docs


@dataclass(frozen=True)
class Corpus:
    """Cleaned, de-duplicated documents split train / valid / test (by document, seed ``seed``)."""

    train: list[str]
    valid: list[str]
    test: list[str]
    n_raw: int
    seed: int

    def sha256(self) -> str:
        """Hash of the cleaned text: every document, sorted, joined by blank lines (independent of the split)."""
        text = "\n\n".join(sorted([*self.train, *self.valid, *self.test]))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def card(self) -> dict:
        """What a model card records about its data."""
        words = {name: sum(len(d.split()) for d in docs) for name, docs in self.splits().items()}
        return {
            **WORDNET_SOURCE, "split_seed": self.seed, "raw_documents": self.n_raw,
            "documents": {name: len(docs) for name, docs in self.splits().items()}, "words": words,
            "cleaning": "Unicode NFC; lemma underscores -> spaces; whitespace collapsed; empty examples dropped; "
            "exact duplicate documents kept once; split by document",
            "sha256": self.sha256(),
        }  # fmt: skip

    def splits(self) -> dict[str, list[str]]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def split_documents(docs: list[str], *, seed: int = SPLIT_SEED, held_out: float = 0.02) -> Corpus:
    """De-duplicate (first occurrence kept), shuffle with ``seed``, and cut ``held_out`` of the documents each for
    valid and test."""
    unique = list(dict.fromkeys(docs))
    random.Random(seed).shuffle(unique)
    n = max(1, round(len(unique) * held_out))
    return Corpus(train=unique[2 * n :], valid=unique[:n], test=unique[n : 2 * n], n_raw=len(docs), seed=seed)


def load_corpus(folder: Path | str = WORDNET_DIR, *, seed: int = SPLIT_SEED) -> Corpus:
    """The English corpus, prepared from the WordNet files in ``folder``."""
    return split_documents(wordnet_documents(folder), seed=seed)
