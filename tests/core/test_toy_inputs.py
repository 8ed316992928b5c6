"""core.lab.toy_inputs: the word tokenizer, its limits, and seeded embeddings/projections/modules."""

from __future__ import annotations

import pytest
import torch

from core.lab.toy_inputs import (
    MAX_TOKENS,
    TokenizeError,
    checked_tokens,
    random_tokens,
    seeded_embeddings,
    seeded_module,
    seeded_projections,
    seeded_qkv,
    word_tokens,
)
from core.multihead import MultiHeadAttention


def test_word_tokens():
    assert word_tokens("The  cat\tsat.\n") == ["the", "cat", "sat."]
    assert word_tokens("  ") == []
    assert random_tokens(3) == ["t0", "t1", "t2"]


@pytest.mark.parametrize("text, needle", [("", "no words"), (" \n\t", "no words"),
                                          ("a " * (MAX_TOKENS + 1), f"at most {MAX_TOKENS}")])
def test_checked_tokens_refuses_with_a_message(text, needle):
    with pytest.raises(TokenizeError, match=needle):
        checked_tokens(text)


def test_checked_tokens_accepts_any_script():
    assert checked_tokens("attention 🤖 الانتباه <script>") == ["attention", "🤖", "الانتباه", "<script>"]


def test_seeded_embeddings_equal_words_equal_rows_and_seed_redraws():
    x = seeded_embeddings(["the", "cat", "the"], 8, seed=0)
    assert x.shape == (3, 8) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], x[2])
    assert not torch.equal(x[0], x[1])
    torch.testing.assert_close(x, seeded_embeddings(["the", "cat", "the"], 8, seed=0))  # reproducible
    assert not torch.equal(x, seeded_embeddings(["the", "cat", "the"], 8, seed=1))
    assert seeded_embeddings(["x\u0000\ud800"], 4, 0).shape == (1, 4)  # odd code points do not crash


def test_seeded_projections_and_qkv():
    proj = seeded_projections(16, 4, seed=0, d_v=6)
    assert proj.w_q.shape == (16, 4) and proj.w_k.shape == (16, 4) and proj.w_v.shape == (16, 6)
    x = torch.randn(5, 16)
    q, k, v = seeded_qkv(x, 4, seed=0, d_v=6)
    torch.testing.assert_close(q, x @ proj.w_q)
    torch.testing.assert_close(v, x @ proj.w_v)
    big = seeded_projections(256, 256, seed=0).w_q
    assert big.std().item() == pytest.approx(256 ** -0.5, rel=0.05)  # N(0, 1/d_model)


def test_seeded_module_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = seeded_module(lambda: MultiHeadAttention(8, 2), 0)
    assert torch.equal(torch.rand(1), expected_next)
    b = seeded_module(lambda: MultiHeadAttention(8, 2), 0)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = seeded_module(lambda: MultiHeadAttention(8, 2), 1)
    assert not torch.equal(a.w_q.weight, c.w_q.weight)
