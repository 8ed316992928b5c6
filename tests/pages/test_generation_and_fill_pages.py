"""Headless tests of the Generation page on the English GPT and of the Fill-in-the-blank page on the English BERT:
the figures carry the core's numbers (recomputed here), every control changes them, bad text gets a message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.generation import Sampling, decode
from core.lab.fill_mask import mask_positions
from core.lab.sampling_cut import sampling_cut
from core.text_model import encode_text, run_text
from tests.apptest_utils import chart_specs, error_messages, open_page, plotly_values

GENERATION, FILL = "pages/training/generation.py", "pages/training/fill_in_the_blank.py"
GEN_DEFAULT = "A dog is an animal that"
FILL_DEFAULT = "The animal didn't cross the [MASK] because it was too tired."


def charts(at) -> list[dict]:
    assert not at.exception, error_messages(at)
    specs = chart_specs(at)
    assert specs
    return specs


def spec_titled(at, words: str) -> dict:
    return next(s for s in charts(at) if words in s["layout"].get("title", {}).get("text", ""))


def trace(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def data_of(at) -> str:
    return json.dumps([s["data"] for s in charts(at) if "KV cache size" not in json.dumps(s["layout"])])


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def slider(at, label: str):
    return next(w for w in at.slider if w.label == label)



def test_generation_defaults_to_the_english_gpt_and_draws_the_cores_cut(english_gpt):
    at = open_page(GENERATION)
    spec = spec_titled(at, "next-token distribution")
    assert "Weights: trained english-gpt" in captions(at) and "identical tokens" in captions(at)
    assert "median of" in captions(at)
    prompt = encode_text(english_gpt, GEN_DEFAULT).ids
    assert slider(at, "Max new tokens").max == english_gpt.max_len - len(prompt)
    s = Sampling(1.0, None, 0.9)  # the page's defaults
    run = decode(english_gpt.model, list(prompt), slider(at, "Max new tokens").value, sampling=s, seed=0,
                 stop_token=english_gpt.tokenizer.special_ids["eot"])  # fmt: skip
    step = run.steps[0]
    cut = sampling_cut(step.logits, s)
    after = trace(spec, "sampled from (renormalised)")
    assert after["x"] == [repr(english_gpt.tokenizer.readable_token(i)) for i in cut.ids]
    np.testing.assert_allclose(plotly_values(after["y"]), step.probs[list(cut.ids)].numpy(), rtol=1e-5)
    before = trace(spec, "before the cut: softmax(z / T)")
    p = torch.softmax(step.logits.double(), -1)[list(cut.ids)].numpy()
    np.testing.assert_allclose(plotly_values(before["y"]), p, rtol=1e-4)
    assert before["customdata"] == ["top-p" if v == 0 else "" for v in plotly_values(after["y"])]
    assert any(sh.get("y0") == 0.9 for sh in spec["layout"]["shapes"]), "the top-p threshold is drawn"
    assert any(t.value.startswith("context:  <|endoftext|>" + GEN_DEFAULT) for t in at.text)


@pytest.mark.parametrize(("label", "value"), [("Temperature", 2.0), ("Top-k (0 = off)", 5), ("Top-p (1 = off)", 0.5)])
def test_generation_each_sampling_control_changes_the_cut(label, value):
    at = open_page(GENERATION)
    before = data_of(at)
    slider(at, label).set_value(value).run()
    assert data_of(at) != before
    spec = spec_titled(at, "next-token distribution")
    removed = trace(spec, "before the cut: softmax(z / T)")["customdata"]
    if label.startswith("Top-k"):
        assert removed[5:] == ["top-k"] * (len(removed) - 5) and "top-k" not in removed[:5]


def test_generation_step_slider_cache_toggle_untrained_and_empty_prompt():
    at = open_page(GENERATION)
    first = data_of(at)
    slider(at, "Step").set_value(3).run()
    assert data_of(at) != first and "Step 3" in spec_titled(at, "next-token")["layout"]["title"]["text"]
    at.toggle(key="generation_cache").set_value(False).run()
    assert "identical tokens" in captions(at)
    trained = data_of(at)
    at.radio(key="generation_english_weights").set_value("untrained").run()
    assert "untrained english-gpt" in captions(at) and data_of(at) != trained
    at.text_input(key="generation_english_text").set_value("").run()
    assert not at.exception, error_messages(at)
    assert "empty" in " ".join(w.value for w in at.warning)


def test_fill_in_the_blank_bars_and_attention_equal_run_text(english_bert):
    at = open_page(FILL)
    assert "Weights: trained english-bert" in captions(at)
    tok = english_bert.tokenizer
    special = tok.special_ids
    ids = encode_text(english_bert, FILL_DEFAULT).ids
    (m,) = mask_positions(ids, special["mask"])
    out = run_text(english_bert, ids)
    z = out.logits[m].double().numpy()
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    best = np.argsort(-p, kind="stable")[:10]
    bars = spec_titled(at, "most likely tokens")["data"][-1]
    assert bars["x"] == [repr(english_bert.tokenizer.readable_token(i)) for i in best]
    np.testing.assert_allclose(plotly_values(bars["y"]), p[best], rtol=1e-6)
    heat = spec_titled(at, "Where the [MASK]")["data"][0]
    attention = out.attention[:, :, m, :].reshape(-1, len(ids)).double().numpy()  # (L·H, T)
    np.testing.assert_allclose(plotly_values(heat["z"]), attention, rtol=1e-5, atol=1e-7)


def test_fill_in_the_blank_k_picker_untrained_and_messages():
    at = open_page(FILL)
    slider(at, "Top-k guesses").set_value(4).run()
    assert len(spec_titled(at, "most likely tokens")["data"][-1]["x"]) == 4
    box = at.text_input(key="fill_in_the_blank_english_text")
    box.set_value("The [MASK] sat on the [MASK].").run()
    picker = next(w for w in at.selectbox if w.label == "[MASK] to look at")
    first = data_of(at)
    picker.set_value(1).run()
    assert data_of(at) != first and "[MASK] #2" in spec_titled(at, "most likely")["layout"]["title"]["text"]
    trained = data_of(at)
    at.radio(key="fill_in_the_blank_english_weights").set_value("untrained").run()
    assert "untrained english-bert" in captions(at) and data_of(at) != trained
    box.set_value("No blank in this sentence.").run()
    assert not at.exception, error_messages(at)
    assert "type [MASK]" in " ".join(w.value for w in at.warning) and not chart_specs(at)
    box.set_value("   ").run()
    assert "empty" in " ".join(w.value for w in at.warning)
