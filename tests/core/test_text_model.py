"""core.text_model: every shipped text model loads through load_text_model; English text is framed, cut and run as
the model reads it; and the English models' cards hold up on the held-out sample shipped beside them."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from core.head_roles import sentence_scores
from core.lab.text_head_roles import HELDOUT_SAMPLE, heldout_documents, text_model_head_roles
from core.text_model import (
    CharTokenizer,
    EmptyText,
    TextTokenizer,
    encode_text,
    load_text_model,
    run_text,
    shipped_text_models,
    untrained_twin,
)
from core.train import english_training as et
from core.train.checkpoints import MODELS_DIR

ENGLISH = ("english-gpt", "english-bert")
SENTENCE = "The animal didn't cross the street because it was too tired."


@pytest.fixture
def gpt(english_gpt):
    return english_gpt


@pytest.fixture
def bert(english_bert):
    return english_bert


def test_every_shipped_text_model_loads_with_a_tokenizer():
    names = shipped_text_models()
    assert set(ENGLISH) <= set(names) and {"reverse", "masked"} <= set(names)
    for name in names:
        tm = load_text_model(name)
        assert isinstance(tm.tokenizer, TextTokenizer) and tm.name == name
        assert not tm.model.training
        assert tm.kind in ("decoder", "encoder", "encoder-decoder")
    assert isinstance(load_text_model("reverse").tokenizer, CharTokenizer)


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="english-gpt"):
        load_text_model("gpt-17")


@pytest.mark.parametrize("name", ENGLISH)
def test_model_call_gives_logits_and_per_layer_traces(name):
    tm = load_text_model(name)
    ids = encode_text(tm, SENTENCE).ids
    out = tm.model(torch.tensor([ids]), return_trace=True)
    T, cfg = len(ids), tm.model.config
    assert out.logits.shape == (1, T, tm.tokenizer.vocab_size)
    assert len(out.trace) == cfg.n_layers
    assert out.trace[0].self_attn.weights.shape == (1, cfg.n_heads, T, T)


def test_framing_and_the_mask_token(gpt, bert):
    g, b = encode_text(gpt, SENTENCE), encode_text(bert, "the [MASK] sat")
    assert g.tokens[0] == "<|endoftext|>" and g.ids[0] == gpt.tokenizer.special_ids["eot"]
    assert gpt.tokenizer.decode(list(g.ids[1:])) == SENTENCE
    assert b.tokens == ("[CLS]", "the", "[MASK]", " sat", "[SEP]")  # the typed space before [MASK] folded in
    assert b.ids[2] == bert.tokenizer.special_ids["mask"]


def test_empty_text_and_long_text(gpt, bert):
    for blank in ("", "   \n\t"):
        with pytest.raises(EmptyText, match="empty"):
            encode_text(gpt, blank)
    long = " ".join(["word"] * 200)
    for tm in (gpt, bert):
        e = encode_text(tm, long)
        assert len(e.ids) == tm.max_len and e.n_text_tokens == len(tm.tokenizer.encode(long)) > tm.max_len
        assert e.cut_at == tm.max_len - (1 if tm.kind == "decoder" else 2)
        assert f"cut after token {e.cut_at}" in e.cut_message
        run_text(tm, e.ids)  # the cut text fits the positions
    assert encode_text(gpt, "short").cut_message is None


def test_any_unicode_is_read(gpt):
    text = "Ünïcödé 😀 中文 ½ \u200b"
    assert gpt.tokenizer.decode(list(encode_text(gpt, text).ids[1:])) == text


@pytest.mark.parametrize("name", ENGLISH)
def test_run_text_returns_the_model_own_attention_and_residual_stream(name):
    tm = load_text_model(name)
    ids = encode_text(tm, SENTENCE).ids
    r = run_text(tm, ids)
    out = tm.model(torch.tensor([ids]), return_trace=True)
    torch.testing.assert_close(r.attention, torch.stack([t.self_attn.weights[0] for t in out.trace]))
    torch.testing.assert_close(r.logits, out.logits[0])
    torch.testing.assert_close(r.attention.sum(-1), torch.ones(r.attention.shape[:-1]))
    emb = tm.model.embedding(torch.tensor([ids]))
    pos = tm.model.encoder.positions if tm.kind == "encoder" else tm.model.decoder.positions
    torch.testing.assert_close(r.hidden[0], pos.add_to_embeddings(emb, 0)[0])
    assert r.hidden.shape == (tm.model.config.n_layers + 1, len(ids), tm.model.config.d_model)


def test_untrained_twin_same_architecture_other_weights(gpt):
    twin = untrained_twin(gpt, seed=3)
    again = untrained_twin(gpt, seed=3)
    assert twin.tokenizer is gpt.tokenizer and twin.model.config == gpt.model.config
    assert not torch.equal(twin.model.embedding.weight, gpt.model.embedding.weight)
    torch.testing.assert_close(twin.model.embedding.weight, again.model.embedding.weight)  # seeded


# ---- the cards' claims, re-checked on the held-out sample (test split documents never trained on) -------------
def _heldout_windows(tm, separator: str) -> torch.Tensor:
    stream = et.encode_documents(tm.tokenizer, heldout_documents(), tm.tokenizer.special_ids[separator])
    if tm.kind == "decoder":
        return et.causal_windows(stream, tm.max_len)
    return et.encoder_windows(stream, tm.max_len, tm.tokenizer.special_ids["cls"])


def test_heldout_sample_is_from_the_test_split_and_licensed():
    header = HELDOUT_SAMPLE.read_text(encoding="utf-8").splitlines()[:4]
    assert any("WordNet 3.0 Copyright 2006 by Princeton University" in line for line in header)
    assert len(heldout_documents()) == 300


def test_gpt_beats_the_bigram_baseline_on_the_heldout_sample(gpt):
    windows = _heldout_windows(gpt, "eot")
    with torch.no_grad():
        logits = gpt.model(windows[:, :-1]).logits
    ce = float(F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten()))
    table = load_file(str(MODELS_DIR / "english-bpe" / "train_bigrams.safetensors"))
    pairs = torch.stack([windows[:, :-1].flatten(), windows[:, 1:].flatten()], 1)
    card = gpt.card["held_out"]
    bigram = et.bigram_cross_entropy_from_table(table, pairs, card["bigram_k"])
    assert ce < bigram - 0.3, (ce, bigram)  # clearly: at least 0.3 nats per token lower
    assert abs(ce - card["cross_entropy"]) < 0.25, (ce, card["cross_entropy"])  # the card's number holds up
    assert card["perplexity"] == pytest.approx(math.exp(card["cross_entropy"]), rel=1e-3)


def test_bert_beats_always_guessing_the_most_frequent_tokens_on_the_heldout_sample(bert):
    windows = _heldout_windows(bert, "sep")
    special = sorted(bert.tokenizer.special_ids.values())
    masking = {"mask_id": bert.tokenizer.special_ids["mask"], "special_ids": special, "n_ordinary": min(special)}
    inputs, targets = et.mask_tokens(windows, generator=torch.Generator().manual_seed(0), **masking)
    acc = et.masked_accuracy(bert.model, [(inputs, targets)])
    unigram = load_file(str(MODELS_DIR / "english-bpe" / "train_bigrams.safetensors"))["unigram"]
    stream = torch.repeat_interleave(torch.arange(len(unigram)), unigram)
    base = et.frequent_token_accuracy(stream, targets, special)
    assert acc["top1"] > base["top1"] + 0.1 and acc["top5"] > base["top5"] + 0.1, (acc, base)
    assert abs(acc["top1"] - bert.card["held_out"]["top1"]) < 0.08


def test_head_roles_of_the_trained_gpt_equal_a_recomputation(gpt):
    roles = text_model_head_roles(gpt, n_sentences=4, n_induction=2, induction_len=8)
    by_hand = []
    for doc in heldout_documents()[:4]:
        ids = torch.tensor(encode_text(gpt, doc).ids)
        by_hand.append(sentence_scores(run_text(gpt, ids.tolist()).attention.double(), ids)["previous-token"])
    torch.testing.assert_close(roles.scores["previous-token"], torch.stack(by_hand).mean(0))
    assert roles.shape == (gpt.model.config.n_layers, gpt.model.config.n_heads)


def test_training_gives_the_gpt_heads_with_jobs(gpt):
    """Measured on the shipped english-gpt: its strongest heads sit far above the untrained twin's, whose every
    head spreads its weight near uniformly (mean entropy ≈ the uniform map's)."""
    trained = text_model_head_roles(gpt, n_sentences=16, n_induction=4)
    untrained = text_model_head_roles(untrained_twin(gpt, 0), n_sentences=16, n_induction=4)
    assert float(trained.scores["first-token"].max()) > 2 * float(untrained.scores["first-token"].max())
    assert float(trained.scores["previous-token"].max()) > 1.5 * float(untrained.scores["previous-token"].max())
    assert float(trained.entropy.min()) < float(untrained.entropy.min()) - 0.5  # some trained heads focus
