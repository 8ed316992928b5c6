"""core.lab.tokens: the merge history, the token-count curve, embedding neighbours and one word's cosine across
layers, each checked against an independent recomputation (the tokenizer itself, float64 numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lab.tokens import (
    cosine_neighbours,
    layer_cosines,
    merge_breakpoints,
    merge_rows,
    shared_token_ids,
    symbol_text,
    token_count_curve,
    visible,
)
from core.text_model import encode_text, load_tokenizer, run_text

TEXTS = ["The animal didn't cross the street because it was too tired.", "tokenization 🙂 lower", "a  b\tc"]


@pytest.fixture(scope="module")
def bpe():
    return load_tokenizer("english-bpe")


def test_visible_shows_whitespace_and_bytes():
    assert visible(" the\n") == "␣the↵" and visible("a\tb") == "a⇥b"
    assert symbol_text("Ġthe") == "␣the"
    assert symbol_text("ð") == "\\xf0"  # a lone lead byte of a 4-byte character


@pytest.mark.parametrize("text", TEXTS)
def test_merge_rows_replay_bpe(bpe, text):
    rows = merge_rows(bpe, text)
    words = [r for r in rows if r.step == 0]
    assert [r.word for r in words] == [visible(w) for w, _ in bpe.explain(text)]
    for w in words:
        assert len(w.symbols) == len(w.word.replace("␣", " ").replace("⇥", "\t").encode("utf-8"))
    finals = [rows[i - 1].symbols for i in range(1, len(rows)) if rows[i].step == 0] + [rows[-1].symbols]
    assert [s for final in finals for s in final] == [visible(t) for t in bpe.tokens(text)]
    for prev, row in zip(rows, rows[1:], strict=False):
        if row.step:
            assert row.step == prev.step + 1 and row.merged in row.symbols and row.merged == row.left + row.right
            assert prev.rank is None or row.rank > prev.rank  # a trained merge list applies rising ranks
            assert len(row.symbols) < len(prev.symbols)


def test_emoji_stays_four_byte_tokens(bpe):
    rows = merge_rows(bpe, "🙂")
    assert rows[-1].symbols == ("\\xf0", "\\x9f", "\\x99", "\\x82")
    assert len(bpe.encode("🙂")) == 4


@pytest.mark.parametrize("text", TEXTS)
def test_count_curve_is_encode_at_every_n(bpe, text):
    curve = token_count_curve(bpe, text)
    assert curve.n_merges[0] == 0 and curve.n_merges[-1] == len(bpe.merges)
    for n, c in zip(curve.n_merges, curve.counts, strict=True):
        assert c == len(bpe.encode(text, max_merges=int(n)))
    assert curve.counts[0] == len(text.encode("utf-8")) and curve.counts[-1] == len(bpe.encode(text))
    # the step curve is exact between its points too: c only changes where a merge the text uses switches on
    for n in range(0, len(bpe.merges) + 1, 7):
        assert curve.count_at(n) == len(bpe.encode(text, max_merges=n)), n


def test_count_curve_at_chosen_n_and_breakpoints(bpe):
    text = " lower"
    assert merge_breakpoints(bpe, text) == sorted({0, len(bpe.merges), *(s.rank + 1 for _, st in bpe.explain(text)
                                                                           for s in st)})  # fmt: skip
    curve = token_count_curve(bpe, text, [5, 0, 5, 100])
    assert curve.n_merges.tolist() == [0, 5, 100]
    assert curve.counts.tolist() == [len(bpe.encode(text, max_merges=n)) for n in (0, 5, 100)]


def _cosines(w: np.ndarray, v: int) -> np.ndarray:
    w = w.astype(np.float64)
    return (w @ w[v]) / (np.linalg.norm(w, axis=1) * np.linalg.norm(w[v]))


@pytest.mark.parametrize("token", [0, 17, 300])
def test_neighbours_equal_a_float64_cosine(english_gpt, token):
    weight = english_gpt.model.embedding.weight
    near = cosine_neighbours(weight, token, k=12)
    sims = _cosines(weight.detach().numpy(), token)
    sims[token] = -np.inf
    order = np.argsort(-sims, kind="stable")[:12]
    assert token not in near.ids and len(near.ids) == 12
    np.testing.assert_allclose(near.similarities, sims[order], rtol=1e-12)
    np.testing.assert_allclose(sims[list(near.ids)], near.similarities, rtol=1e-12)  # ties may swap ids, not values
    assert list(near.similarities) == sorted(near.similarities, reverse=True)


def test_neighbours_of_a_small_matrix_by_hand():
    w = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    near = cosine_neighbours(w, 0, k=5)
    assert near.ids == (1, 2, 3)  # k capped at V - 1, itself left out
    np.testing.assert_allclose(near.similarities, [0.9 / np.hypot(0.9, 0.1), 0.0, -1.0], atol=1e-15)


def test_shared_token_ids_in_order_without_skipped():
    assert shared_token_ids([5, 1, 2, 3, 2, 9], [9, 3, 2, 5], skip=[5]) == [2, 3, 9]
    assert shared_token_ids([1], [2]) == []


def test_bank_cosines_equal_run_text_hidden(english_bert):
    a = encode_text(english_bert, "I sat on the bank of the river.").ids
    b = encode_text(english_bert, "I put my money in the bank.").ids
    bank = english_bert.tokenizer.encode(" bank")
    assert len(bank) == 1 and bank[0] in a and bank[0] in b
    ha, hb = run_text(english_bert, a).hidden, run_text(english_bert, b).hidden  # (L + 1, T, d)
    ta, tb = a.index(bank[0]), b.index(bank[0])
    got = layer_cosines(ha, ta, hb, tb)
    assert got.shape == (english_bert.model.config.n_layers + 1,)
    x, y = ha[:, ta].double().numpy(), hb[:, tb].double().numpy()
    want = (x * y).sum(-1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert ta != tb and got[0] < 1 - 1e-6  # depth 0 includes different learned positions
    same = layer_cosines(ha, ta, ha, ta)
    np.testing.assert_allclose(same, 1.0, rtol=1e-12)
