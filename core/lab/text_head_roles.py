"""Head-role scores (:mod:`core.head_roles`) of a text model, on held-out English and repeated random tokens.

    sentences   the first ``n_sentences`` documents of ``models/english-bpe/heldout_sample.txt`` (test split of the
                WordNet corpus, never trained on), each framed as the model reads text (core.text_model.encode_text)
    induction   ``n_induction`` sequences [first, r_1 … r_n, r_1 … r_n] of n distinct ordinary tokens (seeded),
                ``first`` the token the model's input starts with (<|endoftext|> for the GPT, [CLS] for the BERT)

Only English (BPE) models: the held-out sample is English text.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.head_roles import HeadRoles, score_heads
from core.text_model import TextModel, encode_text, frame_ids, run_text
from core.train.checkpoints import MODELS_DIR

HELDOUT_SAMPLE = MODELS_DIR / "english-bpe" / "heldout_sample.txt"


def heldout_documents(path: Path | str = HELDOUT_SAMPLE) -> list[str]:
    """The held-out sample's documents (its '#' header lines dropped; documents separated by a line '%')."""
    text = "\n".join(line for line in Path(path).read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return [doc.strip() for doc in text.split("\n%\n") if doc.strip()]


def text_model_head_roles(
    tm: TextModel, *, n_sentences: int = 32, n_induction: int = 8, induction_len: int = 20, seed: int = 0
) -> HeadRoles:
    """Every head's role scores for a text model (see module docstring); deterministic in ``seed``."""
    sentences = [list(encode_text(tm, doc).ids) for doc in heldout_documents()[:n_sentences]]
    before, after = frame_ids(tm)
    special = set(tm.tokenizer.special_ids.values())
    ordinary = [i for i in range(tm.tokenizer.vocab_size) if i not in special]
    induction_len = min(induction_len, (tm.max_len - len(before) - len(after)) // 2)

    def forward(ids: torch.Tensor) -> torch.Tensor:  # (1, T) -> (L, H, T, T)
        return run_text(tm, ids[0].tolist()).attention

    return score_heads(forward, sentences, induction_vocab=ordinary, n_induction=n_induction,
                       induction_len=induction_len, seed=seed, first_token=before[0] if before else None)  # fmt: skip
