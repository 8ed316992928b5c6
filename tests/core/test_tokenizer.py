"""core.tokenizer: byte-level BPE round trips any text, trains deterministically, and gives the same ids as the
Hugging Face `tokenizers` library's byte-level BPE loaded from the same vocab.json + merges.txt."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.text_model import load_tokenizer
from core.tokenizer import ByteLevelBPE, bytes_to_unicode, pre_tokenize, readable

tokenizers = pytest.importorskip("tokenizers")

CORPUS = [
    "the cat sat on the mat because it was tired",
    "the dog sat on the log; the cat didn't",
    "Naïve cafés serve crème brûlée — 3 times a week!",
    "   spaces   and\ttabs\nand new lines\n\n",
    "emoji 😀 and Ελληνικά and 中文 too",
] * 20
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
MIXED = [
    "The animal didn't cross the street because it was too tired.",
    "Café naïve — résumé 123,456.78 dollars!!! 😀👍🏽 ",
    "  leading and trailing  \n\n\ttabs\r\n",
    "The [MASK] sat on [CLS] the mat[SEP][PAD]<|endoftext|>x",
    "ÆØÅ ß ﬁ Ω ½ ² ٣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "",
]


@pytest.fixture(scope="module")
def shipped() -> ByteLevelBPE:
    return load_tokenizer("english-bpe")


@pytest.fixture(scope="module")
def small() -> ByteLevelBPE:
    return ByteLevelBPE.train(CORPUS, 330)


def hf_from_files(tok: ByteLevelBPE, folder) -> tokenizers.Tokenizer:
    """The reference: tokenizers' BPE model + ByteLevel pre-tokenizer (GPT-2's regex, no prefix space) from our files."""
    vocab, merges = tok.save(folder)
    hf = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(vocab), str(merges)))
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = tokenizers.decoders.ByteLevel()
    hf.add_special_tokens(list(tok.special_tokens))
    return hf


@given(TEXT)
@settings(max_examples=150, deadline=None)
def test_any_text_round_trips(text):
    tok = load_tokenizer("english-bpe")
    assert tok.decode(tok.encode(text)) == text


@given(TEXT, st.integers(0, 4000))
@settings(max_examples=60, deadline=None)
def test_any_text_round_trips_with_fewer_merges(text, n):
    tok = load_tokenizer("english-bpe")
    assert tok.decode(tok.encode(text, max_merges=n)) == text


def test_ids_equal_the_tokenizers_library_on_mixed_text(shipped, tmp_path):
    hf = hf_from_files(shipped, tmp_path)
    for text in MIXED:
        assert shipped.encode(text) == hf.encode(text).ids, text


@given(TEXT)
@settings(max_examples=150, deadline=None)
def test_ids_equal_the_tokenizers_library_on_any_text(tmp_path_factory, text):
    tok = load_tokenizer("english-bpe")
    hf = _cached_hf(tok, tmp_path_factory)
    assert tok.encode(text) == hf.encode(text).ids


_HF: dict[int, tokenizers.Tokenizer] = {}


def _cached_hf(tok, tmp_path_factory):
    if id(tok) not in _HF:
        _HF[id(tok)] = hf_from_files(tok, tmp_path_factory.mktemp("hf"))
    return _HF[id(tok)]


def test_a_small_trained_tokenizer_also_matches_the_library(small, tmp_path):
    hf = hf_from_files(small, tmp_path)
    for text in [*MIXED, *CORPUS[:5]]:
        assert small.encode(text) == hf.encode(text).ids


def test_training_is_deterministic():
    a, b = ByteLevelBPE.train(CORPUS, 330), ByteLevelBPE.train(list(CORPUS), 330)
    assert a.merges == b.merges and a.vocab == b.vocab


def test_the_first_merge_is_the_most_frequent_pair_counted_independently(small):
    pairs = Counter()
    for text in CORPUS:
        for word in pre_tokenize(text):
            pairs.update(zip(word, word[1:], strict=False))
    best = max(pairs.values())
    assert pairs[small.merges[0]] == best
    assert small.merges[0] == min(p for p, c in pairs.items() if c == best)  # ties: the pair that sorts first


def test_vocabulary_layout(small):
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert [small.vocab[table[b]] for b in range(256)] == list(range(256))  # id = byte value
    assert small.vocab_size == 330
    assert list(small.special_ids) == ["eot", "pad", "cls", "sep", "mask"]
    assert max(small.special_ids.values()) == small.vocab_size - 1


def test_special_tokens_written_in_the_text_become_one_id(shipped):
    ids = shipped.encode("a [MASK] b")
    assert shipped.special_ids["mask"] in ids
    assert shipped.tokens("a [MASK] b") == ["a", " ", "[MASK]", " b"]
    assert shipped.encode("[mask]").count(shipped.special_ids["mask"]) == 0  # case matters


def test_explain_applies_merges_in_rank_order_and_ends_at_the_tokens(shipped):
    for word, steps in shipped.explain("The unbelievably tired animal"):
        symbols = [readable(s) for s in steps[-1].symbols] if steps else None
        ranks = [s.rank for s in steps]
        assert ranks == sorted(ranks)
        assert all(s.left + s.right in s.symbols for s in steps)
        if steps:
            assert "".join(symbols) == word
    tokens = shipped.tokens("The unbelievably tired animal")
    explained = [readable(s) for _, steps in shipped.explain("The unbelievably tired animal") for s in steps[-1].symbols]
    assert explained == tokens


def test_fewer_merges_never_give_fewer_tokens(shipped):
    text = "The animal didn't cross the street because it was too tired."
    counts = [len(shipped.encode(text, max_merges=n)) for n in (0, 10, 100, 1000, len(shipped.merges))]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == len(text.encode("utf-8"))  # no merge: one token per byte
    assert shipped.encode(text, max_merges=len(shipped.merges)) == shipped.encode(text)


def test_save_and_load_round_trip(small, tmp_path):
    small.save(tmp_path)
    again = ByteLevelBPE.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
    assert again.vocab == small.vocab and again.merges == small.merges and again.special_ids == small.special_ids


def test_bad_files_say_what_is_wrong(tmp_path):
    (tmp_path / "vocab.json").write_text("[1, 2]")
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    with pytest.raises(ValueError, match="token -> id"):
        ByteLevelBPE.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
    with pytest.raises(ValueError, match="cannot read"):
        ByteLevelBPE.from_files(tmp_path / "missing.json", tmp_path / "merges.txt")
    with pytest.raises(ValueError, match="byte symbols"):
        ByteLevelBPE({"a": 0}, [])
    with pytest.raises(ValueError, match="vocab_size"):
        ByteLevelBPE.train(["x"], 100)
