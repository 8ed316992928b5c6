"""Headless tests of the Tokens-and-embeddings page: its figures carry the core's numbers (recomputed here from the
tokenizer and the models), the merges slider moves the curve's marker, bad and odd text gets a message or works."""

from __future__ import annotations

import numpy as np

from core.lab.tokens import visible
from core.text_model import encode_text, run_text
from tests.apptest_utils import chart_specs, error_messages, open_page, plotly_values
from ui.text_models import DEFAULT_SENTENCE

PAGE = "pages/foundations/tokens_and_embeddings.py"
SLUG = "tokens_and_embeddings"


def spec_titled(at, words: str) -> dict:
    assert not at.exception, error_messages(at)
    return next(s for s in chart_specs(at) if words in s["layout"]["title"]["text"])


def values(trace: dict, field: str) -> np.ndarray:
    return plotly_values(trace[field])


def test_defaults_draw_the_cores_numbers(english_gpt, english_bert):
    at = open_page(PAGE)
    tok = english_gpt.tokenizer
    curve, here = spec_titled(at, "merges applied")["data"]
    ns = values(curve, "x").astype(int)
    assert ns[0] == 0 and ns[-1] == len(tok.merges)
    np.testing.assert_array_equal(values(curve, "y"), [len(tok.encode(DEFAULT_SENTENCE, max_merges=n)) for n in ns])
    assert values(here, "y")[0] == len(tok.encode(DEFAULT_SENTENCE))
    assert any(c.value.startswith("Weights: trained english-gpt") for c in at.caption)

    ids = encode_text(english_gpt, DEFAULT_SENTENCE).ids
    table = at.dataframe[1].value  # position, token, id
    assert table["id"].tolist() == list(ids) and table["token"].tolist()[0] == "<|endoftext|>"

    text_ids = [i for i in ids if i not in tok.special_ids.values()]
    first = max(text_ids, key=lambda i: len(tok.readable_token(i)))  # the page's default: the longest token
    for weights, model in (("trained", english_gpt.model), ("untrained", None)):
        bars = spec_titled(at, f"in {weights}")["data"][0]
        if model is None:
            assert "seed 0" in spec_titled(at, "in untrained")["layout"]["title"]["text"]
            continue
        w = model.embedding.weight.detach().double().numpy()
        sims = w @ w[first] / (np.linalg.norm(w, axis=1) * np.linalg.norm(w[first]))
        sims[first] = -np.inf
        best = np.argsort(-sims, kind="stable")[:10]
        np.testing.assert_allclose(values(bars, "x"), sims[best], rtol=1e-10)
        assert bars["y"][0] == visible(tok.readable_token(int(best[0]))).replace("<", "&lt;").replace(">", "&gt;")
    trained = values(spec_titled(at, "in trained")["data"][0], "x")
    untrained = values(spec_titled(at, "in untrained")["data"][0], "x")
    assert not np.allclose(trained, untrained)

    a = encode_text(english_bert, "I sat on the bank of the river.").ids
    b = encode_text(english_bert, "I put my money in the bank.").ids
    (bank,) = english_bert.tokenizer.encode(" bank")
    ha, hb = run_text(english_bert, a).hidden.double().numpy(), run_text(english_bert, b).hidden.double().numpy()
    x, y = ha[:, a.index(bank)], hb[:, b.index(bank)]  # (L + 1, d)
    want = (x * y).sum(-1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
    lines = {t["name"]: values(t, "y") for t in spec_titled(at, "in two sentences")["data"]}
    assert set(lines) == {"A vs B", "A vs C (control)"}
    np.testing.assert_allclose(lines["A vs B"], want, rtol=1e-6)
    assert f"A vs B: {want[0]:.4f} at depth 0, {want[-1]:.4f} after the last layer" in " ".join(c.value for c in at.caption)


def test_merges_slider_moves_the_marker_and_the_tokens():
    at = open_page(PAGE)
    slider = at.slider(key=f"{SLUG}_merges")
    before = spec_titled(at, "merges applied")["data"]
    slider.set_value(0).run()
    after = spec_titled(at, "merges applied")["data"]
    assert after != before and values(after[1], "x")[0] == 0
    assert values(after[1], "y")[0] == len(DEFAULT_SENTENCE.encode("utf-8"))  # one token per byte
    assert at.code[0].value.startswith("T | h | e | ␣ | a")


def test_picking_a_token_and_a_word_changes_the_figures():
    at = open_page(PAGE)
    near = spec_titled(at, "in trained")
    at.selectbox(key=f"{SLUG}_token").select_index(2).run()
    assert spec_titled(at, "in trained") != near
    at.slider(key=f"{SLUG}_k").set_value(5).run()
    assert len(spec_titled(at, "in trained")["data"][0]["y"]) == 5
    bank = spec_titled(at, "in two sentences")
    at.selectbox(key=f"{SLUG}_word").select_index(0).run()  # "I", the first token A and B share (default: " bank")
    assert spec_titled(at, "in two sentences") != bank


def test_empty_text_says_so_and_emoji_text_shows_bytes():
    at = open_page(PAGE)
    at.text_input(key=f"{SLUG}_english_text").set_value("").run()
    assert not at.exception, error_messages(at)
    assert "empty" in " ".join(w.value for w in at.warning)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert titles and not any("merges applied" in t for t in titles)  # 1-4 wait for text; 5 has its own sentences
    at.text_input(key=f"{SLUG}_english_text").set_value("I like tea 🙂").run()  # a fresh handle: the tree changed
    assert not at.exception, error_messages(at)
    assert "\\xf0 | \\x9f | \\x99 | \\x82" in at.code[0].value
    assert spec_titled(at, "merges applied")["data"][0]
    at.text_input(key=f"{SLUG}_bank_b").set_value("   ").run()
    assert "Sentence B" in " ".join(w.value for w in at.warning)


def test_control_without_the_word_and_long_text():
    at = open_page(PAGE)
    at.text_input(key=f"{SLUG}_bank_c").set_value("Nothing in common here.").run()
    names = [t["name"] for t in spec_titled(at, "in two sentences")["data"]]
    assert names == ["A vs B"] and any("does not contain" in c.value for c in at.caption)
    at.text_input(key=f"{SLUG}_english_text").set_value("word " * 100).run()
    assert not at.exception, error_messages(at)
    assert any("cut after token" in i.value for i in at.info)
