"""The five foundation pages (AppTest): what they show equals what the core computes on the same inputs, widgets
change the figures, and bad input gets a message instead of a traceback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.attention import attention
from core.generation import head_inputs, predict
from core.lab.mask_gallery import cross_projections, gallery_attention, gallery_cross_mask, gallery_masks
from core.lab.scoring_cost import build_scorers, count_parameters, run_scoring
from core.lab.softmax_stats import d_k_grid, pairwise_head_divergence, scaling_sweep
from core.lab.text_heads import text_head_steps
from core.lab.toy_inputs import random_embeddings, seeded_embeddings, seeded_module, seeded_projections, word_tokens
from core.masks import causal_mask, cross_mask
from core.multihead import MultiHeadAttention
from core.text_model import load_text_model
from core.train.checkpoints import MODELS_DIR, load_model
from core.train.tasks import get_task
from tests.apptest_utils import chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as values
from tests.pages.english_reference import (
    BERT,
    EMOJI_TEXT,
    GPT,
    HAVE_ENGLISH,
    LONG_TEXT,
    assert_map,
    blank_masked,
    encoded,
    head_weights,
)

STEP = "pages/foundations/attention_step_by_step.py"
SQRT = "pages/foundations/why_sqrt_dk.py"
SCORING = "pages/foundations/scoring_functions.py"
MASKS = "pages/foundations/masks.py"
MHA = "pages/multihead_positions/multi_head.py"
SENTENCE = "the cat sat on the mat because it was tired"
SEEDED = {"attention_step_by_step_mode": "sentence"}  # the seeded-embeddings source (the English model is the default)


def chart(at, title_start: str) -> dict:
    """The one chart whose title starts with `title_start`."""
    found = [s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(title_start)]
    assert len(found) == 1, (title_start, [s["layout"]["title"]["text"] for s in chart_specs(at)])
    return found[0]


def assert_ok(at) -> None:
    assert not at.exception, error_messages(at)


def close(shown: np.ndarray, expected: torch.Tensor) -> None:
    torch.testing.assert_close(torch.from_numpy(np.nan_to_num(shown, nan=0.0)), expected.double(),
                               rtol=1e-5, atol=1e-6)


def step_trace(d_model=16, d_k=8, mask=None, temperature=1.0, seed=0, text=SENTENCE):
    x = seeded_embeddings(word_tokens(text), d_model, seed)
    q, k, v = seeded_projections(d_model, d_k, seed).project(x)
    return attention(q, k, v, mask, temperature=temperature), v


# ---- attention step by step --------------------------------------------------------------------------------------

def test_step_by_step_weights_equal_core_and_react_to_mask_and_temperature():
    at = open_page(STEP, **SEEDED)
    assert_ok(at)
    trace, v = step_trace()
    close(values(chart(at, "4 · softmax weights")["data"][0]["z"]), trace.weights)
    close(values(chart(at, "Stage 1")["data"][0]["z"]), trace.raw_scores)
    # One query close up: its weight bars, and the output diamonds = Σ weight_j v_j (from the core's output).
    row = chart(at, "Query 0·the")
    close(values(row["data"][1]["y"]), trace.weights[0])
    summed = chart(at, "Output of query 0·the")
    close(values(summed["data"][-1]["y"]), trace.output[0])
    parts = np.stack([values(t["y"]) for t in summed["data"][:-1]])  # (Lk, d_v)
    close(parts.sum(0), trace.output[0])

    at.selectbox(key="attention_step_by_step_mask").select("causal").run()
    assert_ok(at)
    causal, _ = step_trace(mask=causal_mask(10))
    shown = values(chart(at, "4 · softmax weights")["data"][0]["z"])
    close(shown, causal.weights)
    assert np.allclose(np.triu(shown, 1), 0)

    at.slider(key="attention_step_by_step_temperature").set_value(2.0).run()
    hot, _ = step_trace(mask=causal_mask(10), temperature=2.0)
    close(values(chart(at, "4 · softmax weights")["data"][0]["z"]), hot.weights)

    at.selectbox(key="attention_step_by_step_query").select("7·it").run()
    close(values(chart(at, "Query 7·it")["data"][1]["y"]), hot.weights[7])


def test_step_by_step_stages_sizes_and_random_mode():
    at = open_page(STEP, **SEEDED)
    at.radio(key="attention_step_by_step_stage").set_value("2 · ÷ √d_k (and ÷ temperature)").run()
    trace, _ = step_trace()
    close(values(chart(at, "Stage 2")["data"][0]["z"]), trace.raw_scores / math.sqrt(8))
    at.slider(key="attention_step_by_step_d_k").set_value(4).run()
    trace, v = step_trace(d_k=4)
    qkv = values(chart(at, "Q | K | V")["data"][0]["z"])  # (T, 3 · d_k): Q | K | V
    assert qkv.shape == (10, 12)
    close(qkv[:, 8:], v)
    close(values(chart(at, "Stage 2")["data"][0]["z"]), trace.scaled_scores)

    at.radio(key="attention_step_by_step_mode").set_value("Random tokens").run()
    at.slider(key="attention_step_by_step_length").set_value(5).run()
    assert_ok(at)
    weights = chart(at, "4 · softmax weights")["data"][0]
    assert weights["x"] == ["0·t0", "1·t1", "2·t2", "3·t3", "4·t4"]
    q, k, v = seeded_projections(16, 4, 0).project(random_embeddings(5, 16, 0))
    close(values(weights["z"]), attention(q, k, v).weights)


def test_step_by_step_draws_the_embeddings_x_and_follows_d_model():
    at = open_page(STEP, **SEEDED)
    assert_ok(at)
    spec = chart(at, "Embeddings X")
    x = seeded_embeddings(word_tokens(SENTENCE), 16, 0)  # (T, d_model)
    close(values(spec["data"][0]["z"]), x)
    assert spec["data"][0]["y"] == chart(at, "Q | K | V")["data"][0]["y"] and spec["data"][0]["y"][1] == "1·cat"
    assert spec["layout"]["xaxis"]["title"]["text"] == "embedding dim"
    assert spec["data"][0]["colorscale"] == chart(at, "Q | K | V")["data"][0]["colorscale"]  # diverging, as Q|K|V
    titles = [c["layout"]["title"]["text"] for c in chart_specs(at)]
    assert titles.index(spec["layout"]["title"]["text"]) < titles.index(chart(at, "Q | K | V")["layout"]["title"]["text"])

    at.slider(key="attention_step_by_step_d_model").set_value(8).run()
    assert_ok(at)
    shown = values(chart(at, "Embeddings X")["data"][0]["z"])
    assert shown.shape == (10, 8)
    close(shown, seeded_embeddings(word_tokens(SENTENCE), 8, 0))


@pytest.mark.parametrize("text, needle", [("   ", "no words"), (" ".join(["word"] * 49), "at most 48")])
def test_step_by_step_bad_text_gets_a_warning(text, needle):
    at = open_page(STEP, **SEEDED)
    at.text_input(key="attention_step_by_step_text").input(text).run()
    assert_ok(at)
    assert any(needle in w.value for w in at.warning), [w.value for w in at.warning]
    assert not chart_specs(at)


def test_step_by_step_escapes_user_text_and_follows_the_seed():
    at = open_page(STEP, settings_seed=3, **SEEDED)
    at.text_input(key="attention_step_by_step_text").input("<b>hi</b> <script>").run()
    assert_ok(at)
    labels = chart(at, "4 · softmax weights")["data"][0]["x"]
    assert labels == ["0·&lt;b&gt;hi&lt;/b&gt;", "1·&lt;script&gt;"]
    trace, _ = step_trace(seed=3, text="<b>hi</b> <script>")
    close(values(chart(at, "4 · softmax weights")["data"][0]["z"]), trace.weights)


# ---- attention step by step: the English models (the default source) ------------------------------------------

needs_english = pytest.mark.skipif(not HAVE_ENGLISH, reason="the English models are not in models/")
BERT_LABEL = f"{BERT} (BERT-style, bidirectional)"


def english_text(at) -> str:
    return at.text_input(key="attention_step_by_step_english_text").value


@needs_english
def test_step_by_step_defaults_to_the_english_gpt_and_draws_its_own_head():
    at = open_page(STEP)
    assert_ok(at)
    assert at.radio(key="attention_step_by_step_mode").value == "english"
    text = english_text(at)
    tokens = encoded(GPT, text).tokens
    weights = chart(at, "4 · softmax weights")["data"][0]
    assert weights["x"][0] == "0·&lt;|endoftext|&gt;" and len(weights["x"]) == len(tokens)
    close(values(weights["z"]), torch.from_numpy(head_weights(GPT, text, 0, 0)))  # = run_text's attention
    steps = text_head_steps(load_text_model(GPT), encoded(GPT, text).ids, 0, 0)
    close(values(chart(at, "Stage 1")["data"][0]["z"]), steps["raw_scores"])
    close(values(chart(at, "Q | K | V")["data"][0]["z"]), torch.cat([steps["q"], steps["k"], steps["v"]], dim=1))
    assert any("trained english" in c.value and "held" in c.value for c in at.caption)  # says which weights
    pair = chart(at, "Trained vs untrained: layer 0, head 0")["data"]
    assert_map(values(pair[0]["z"]), blank_masked(head_weights(GPT, text, 0, 0), GPT))
    assert_map(values(pair[1]["z"]), blank_masked(head_weights(GPT, text, 0, 0, seed=0), GPT))
    assert not np.allclose(np.nan_to_num(values(pair[0]["z"])), np.nan_to_num(values(pair[1]["z"])))


@needs_english
def test_step_by_step_english_follows_layer_head_weights_and_model():
    at = open_page(STEP)
    text = english_text(at)
    first = values(chart(at, "4 · softmax weights")["data"][0]["z"])
    at.selectbox(key="attention_step_by_step_english_layer").set_value(2)
    at.selectbox(key="attention_step_by_step_english_head").set_value(3).run()
    assert_ok(at)
    shown = values(chart(at, "4 · softmax weights")["data"][0]["z"])
    close(shown, torch.from_numpy(head_weights(GPT, text, 2, 3)))
    assert not np.allclose(shown, first)
    assert chart(at, "Trained vs untrained: layer 2, head 3")

    at.radio(key="attention_step_by_step_english_weights").set_value("untrained").run()
    assert_ok(at)
    untrained = values(chart(at, "4 · softmax weights")["data"][0]["z"])
    close(untrained, torch.from_numpy(head_weights(GPT, text, 2, 3, seed=0)))
    assert not np.allclose(untrained, shown)
    assert any("untrained english-gpt" in c.value.replace("\\", "") for c in at.caption)

    at.radio(key="attention_step_by_step_english_weights").set_value("trained").run()
    at.selectbox(key="attention_step_by_step_english").select(BERT_LABEL).run()
    assert_ok(at)
    bert = chart(at, "4 · softmax weights")["data"][0]
    assert bert["x"][0] == "0·[CLS]" and bert["x"][-1].endswith("·[SEP]")
    close(values(bert["z"]), torch.from_numpy(head_weights(BERT, text, 2, 3)))
    assert (values(bert["z"])[0, 1:] > 0).all()  # no mask: the first token sees the tokens to its right
    assert at.selectbox(key="attention_step_by_step_mask_english").value == "none"


@needs_english
def test_step_by_step_english_empty_long_and_emoji_text():
    at = open_page(STEP)
    at.text_input(key="attention_step_by_step_english_text").input("   ").run()
    assert_ok(at)
    assert any("empty" in w.value for w in at.warning) and not chart_specs(at)

    at.text_input(key="attention_step_by_step_english_text").input(LONG_TEXT).run()
    assert_ok(at)
    assert any("was cut after token" in i.value for i in at.info)
    assert len(chart(at, "4 · softmax weights")["data"][0]["x"]) == 64  # the model's context

    at.text_input(key="attention_step_by_step_english_text").input(EMOJI_TEXT).run()
    assert_ok(at)
    weights = chart(at, "4 · softmax weights")["data"][0]
    assert len(weights["x"]) == len(encoded(GPT, EMOJI_TEXT).ids)
    assert not any("<b>" in label for label in weights["x"])  # user text is escaped in labels
    close(values(weights["z"]), torch.from_numpy(head_weights(GPT, EMOJI_TEXT, 0, 0)))


# ---- why √d_k ----------------------------------------------------------------------------------------------------

def test_why_sqrt_dk_curves_equal_the_core_sweep_and_follow_the_sliders():
    at = open_page(SQRT)
    assert_ok(at)
    sweep = scaling_sweep(d_k_grid(1024), 16, 100, 0)
    spread = chart(at, "Spread of dot products")["data"]
    assert np.allclose(values(spread[0]["y"]), np.sqrt(d_k_grid(1024)))  # theory √d_k
    assert np.allclose(values(spread[1]["y"]), sweep.dot_std)
    assert np.allclose(values(spread[2]["y"]), sweep.scaled_std)
    saturation = chart(at, "Softmax saturation")["data"]
    assert np.allclose(values(saturation[0]["y"]), sweep.max_weight_unscaled)
    assert values(saturation[0]["y"])[-1] > 0.8 > values(saturation[1]["y"])[-1]  # unscaled saturates
    gradient = chart(at, "Softmax gradient")["data"]
    assert np.allclose(values(gradient[0]["y"]), sweep.jacobian_norm_unscaled)

    at.slider(key="why_sqrt_dk_n_keys").set_value(8).run()
    at.select_slider(key="why_sqrt_dk_max_d_k").set_value(64).run()
    assert_ok(at)
    sweep = scaling_sweep(d_k_grid(64), 8, 100, 0)
    spread = chart(at, "Spread of dot products")["data"]
    assert values(spread[1]["x"]).tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert np.allclose(values(spread[1]["y"]), sweep.dot_std)
    assert len(chart(at, "∂p/∂s, scaled")["data"][0]["x"]) == 8


# ---- scoring functions -------------------------------------------------------------------------------------------

def scoring_weights(d=16, h=16, identity_w=False, text="the animal did not cross the street because it was too tired"):
    x = seeded_embeddings(word_tokens(text), d, 0)
    q, k, v = seeded_projections(d, d, 0).project(x)
    scorers = build_scorers(d, h, 0, identity_w=identity_w)
    return {n: run_scoring(q, k, v, n, m).weights for n, m in scorers.items()}, scorers


def test_scoring_maps_and_parameter_counts_equal_the_core():
    at = open_page(SCORING)
    assert_ok(at)
    weights, scorers = scoring_weights()
    titles = {"dot": "Dot product", "scaled_dot": "Scaled dot product", "additive": "Additive",
              "multiplicative": "Multiplicative"}
    for name, title in titles.items():
        close(values(chart(at, title)["data"][0]["z"]), weights[name])
    table = at.dataframe[0].value
    counted = dict(zip(table["scoring"], table["params (live module)"], strict=True))
    assert counted["Additive (Bahdanau)"] == count_parameters(scorers["additive"]) == 2 * 16 * 16 + 16
    assert counted["Multiplicative (Luong general)"] == 16 * 16
    assert counted["Dot product"] == 0
    assert len(chart(at, "Cost of one score matrix")["data"][1]["y"]) == 4

    at.slider(key="scoring_functions_d_hidden").set_value(4).run()
    weights, _ = scoring_weights(h=4)
    close(values(chart(at, "Additive")["data"][0]["z"]), weights["additive"])
    assert at.dataframe[0].value["params (live module)"].tolist()[2] == 2 * 4 * 16 + 4

    at.toggle(key="scoring_functions_identity_w").set_value(True).run()
    assert np.allclose(values(chart(at, "Multiplicative")["data"][0]["z"]),
                       values(chart(at, "Dot product")["data"][0]["z"]))


def test_scoring_empty_text_warns():
    at = open_page(SCORING)
    at.text_input(key="scoring_functions_text").input("").run()
    assert_ok(at)
    assert at.warning and not chart_specs(at)


# ---- masks -------------------------------------------------------------------------------------------------------

def test_mask_gallery_and_cross_attention_equal_the_core():
    at = open_page(MASKS)
    assert_ok(at)
    gallery = chart(at, "Mask gallery")["data"]
    masks = gallery_masks(8, window=3, prefix_len=3, n_pad=2)
    assert len(gallery) == len(masks) + 1  # the cross-attention mask last
    for i, m in enumerate(masks.values()):
        close(values(gallery[i]["z"]), m)
    assert gallery[0]["x"][-2:] == ["6·&lt;pad&gt;", "7·&lt;pad&gt;"]
    q, k, v = seeded_projections(16, 8, 0).project(random_embeddings(8, 16, 0))
    weights = gallery_attention(masks, q, k, v).weights
    close(values(chart(at, "Mask: causal")["data"][0]["z"]), masks["causal"])
    close(values(chart(at, "Weights, causal mask")["data"][0]["z"]), weights[1])

    at.slider(key="masks_padding").set_value(5).run()
    at.selectbox(key="masks_kind").select("key padding (batched sentences)").run()
    assert_ok(at)
    shown = values(chart(at, "Weights, padding mask")["data"][0]["z"])
    assert np.allclose(shown[:, 3:], 0) and np.allclose(shown.sum(1), 1)

    src, tgt = word_tokens("le chat est assis sur le tapis"), word_tokens("the cat sat on the mat")
    proj = seeded_projections(16, 8, 0)
    x_s, x_t = seeded_embeddings(src, 16, 0), seeded_embeddings(tgt, 16, 0)
    cross = attention(x_t @ proj.w_q, x_s @ proj.w_k, x_s @ proj.w_v, cross_mask(6, 7))
    spec = chart(at, "Cross-attention (")["data"][0]
    assert values(spec["z"]).shape == (6, 7) and spec["x"][1] == "1·chat"
    close(values(spec["z"]), cross.weights)


def padded_cross(target_len=8, source_len=11, n_pad=2):
    """The masks page's cross-attention: its mask (L_t, L_s) and core weights on non-square random inputs."""
    mask = gallery_cross_mask(target_len, source_len, n_pad)
    q, k, v = cross_projections(seeded_projections(16, 8, 0), random_embeddings(target_len, 16, 0),
                                random_embeddings(source_len, 16, 1))
    return mask, attention(q, k, v, mask).weights


def test_mask_gallery_cross_entry_is_target_by_padded_source():
    at = open_page(MASKS)
    mask, weights = padded_cross()
    panel = chart(at, "Mask gallery")["data"][-1]
    close(values(panel["z"]), mask)
    assert values(panel["z"]).shape == (8, 11)
    assert panel["y"] == [f"{i}·t{i}" for i in range(8)]  # queries = target positions
    assert panel["x"][0] == "0·s0" and panel["x"][-2:] == ["9·&lt;pad&gt;", "10·&lt;pad&gt;"]  # keys = source
    assert "target query %{y}" in panel["hovertemplate"] and "source key %{x}" in panel["hovertemplate"]

    at.selectbox(key="masks_kind").select("cross-attention (target queries, padded source keys)").run()
    assert_ok(at)
    shown_mask, shown = chart(at, "Mask: cross"), values(chart(at, "Weights, cross mask")["data"][0]["z"])
    close(values(shown_mask["data"][0]["z"]), mask)
    assert shown_mask["layout"]["xaxis"]["title"]["text"] == "source key"
    assert shown_mask["layout"]["yaxis"]["title"]["text"] == "target query"
    close(shown, weights)
    np.testing.assert_allclose((shown * values(shown_mask["data"][0]["z"])).sum(1), 1, atol=1e-6)  # over real keys
    assert np.allclose(shown[:, 9:], 0)

    at.slider(key="masks_source_length").set_value(5).run()
    at.slider(key="masks_padding").set_value(3).run()
    at.toggle(key="masks_causal").set_value(True).run()  # AND with causal: self-attention masks only
    assert_ok(at)
    mask, weights = padded_cross(8, 5, 3)
    close(values(chart(at, "Mask gallery")["data"][-1]["z"]), mask)
    shown = values(chart(at, "Weights, cross mask")["data"][0]["z"])
    assert shown.shape == (8, 5)
    close(shown, weights)
    np.testing.assert_allclose(shown[:, :2].sum(1), 1, atol=1e-6)


def test_masks_all_padding_and_bad_cross_text():
    at = open_page(MASKS)
    at.slider(key="masks_length").set_value(4).run()
    at.slider(key="masks_padding").set_value(31).run()
    assert_ok(at)
    assert any("fully masked" in i.value for i in at.info)
    at.selectbox(key="masks_kind").select("key padding (batched sentences)").run()
    shown = values(chart(at, "Weights, padding mask")["data"][0]["z"])
    assert not np.isnan(shown).any() and np.allclose(shown, 0)  # fully masked rows: zeros, not NaN
    at.text_input(key="masks_source").input("").run()
    assert_ok(at)
    assert any("no words" in w.value for w in at.warning)


# ---- masks: a real model's mask on your sentence ------------------------------------------------------------------

@needs_english
def test_masks_page_shows_the_causal_gpt_beside_the_bidirectional_bert_trained_and_untrained():
    at = open_page(MASKS)
    assert_ok(at)
    text = at.text_input(key="masks_english_text").value
    trained = chart(at, "Trained: english-gpt vs english-bert: layer 0, head 0")["data"]
    untrained = chart(at, "Untrained twins (seed 0): english-gpt vs english-bert")["data"]
    for drawn, seed in ((trained, None), (untrained, 0)):
        assert_map(values(drawn[0]["z"]), blank_masked(head_weights(GPT, text, 0, 0, seed), GPT))
        assert_map(values(drawn[1]["z"]), head_weights(BERT, text, 0, 0, seed))
    assert np.isnan(values(trained[0]["z"])[0, 1:]).all() and not np.isnan(values(trained[1]["z"])).any()

    at.selectbox(key="masks_english_layer").set_value(3)
    at.selectbox(key="masks_english_head").set_value(1).run()
    assert_ok(at)
    moved = chart(at, "Trained: english-gpt vs english-bert: layer 3, head 1")["data"]
    assert_map(values(moved[1]["z"]), head_weights(BERT, text, 3, 1))
    at.selectbox(key="masks_english").select(f"{BERT} (BERT-style, bidirectional)").run()
    assert_ok(at)
    assert chart(at, "Trained: english-bert vs english-gpt: layer 3, head 1")  # the picked model first

    at.text_input(key="masks_english_text").input("").run()
    assert_ok(at)
    assert any("empty" in w.value for w in at.warning)
    assert chart(at, "Cross-attention (")  # the section below still runs
    at.text_input(key="masks_english_text").input(LONG_TEXT).run()
    assert sum("was cut" in i.value for i in at.info) == 2  # both models, each at its own context
    at.text_input(key="masks_english_text").input(EMOJI_TEXT).run()
    assert_ok(at)
    drawn = chart(at, "Trained: english-bert vs english-gpt")["data"]
    assert_map(values(drawn[0]["z"]), head_weights(BERT, EMOJI_TEXT, 3, 1))


# ---- multi-head --------------------------------------------------------------------------------------------------

def mha_weights(d_model=32, heads=4, text=SENTENCE):
    mha = seeded_module(lambda: MultiHeadAttention(d_model, heads), 0)
    with torch.no_grad():
        _, trace = mha(seeded_embeddings(word_tokens(text), d_model, 0)[None])
    return mha, trace.weights[0]


def test_multi_head_maps_and_parameter_count_equal_the_core():
    at = open_page(MHA)
    assert_ok(at)
    mha, weights = mha_weights()
    grid = chart(at, "Attention weights of all 4 heads")["data"]
    assert len(grid) == 4
    for h in range(4):
        close(values(grid[h]["z"]), weights[h])
    close(values(chart(at, "Head 0")["data"][0]["z"]), weights[0])
    divergence = values(chart(at, "How different the heads are")["data"][0]["z"])
    close(divergence, pairwise_head_divergence(weights.double()))
    live = sum(p.numel() for p in mha.parameters())
    assert live == 4 * 32 * 32 + 4 * 32
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert metrics == {"Parameters in the module": live, "4·d_model² + 4·d_model": live}
    assert at.success

    at.slider(key="multi_head_heads").set_value(8).run()
    at.slider(key="multi_head_d_model").set_value(64).run()
    assert_ok(at)
    mha, weights = mha_weights(64, 8)
    grid = chart(at, "Attention weights of all 8 heads")["data"]
    for h in range(8):
        close(values(grid[h]["z"]), weights[h])
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert set(metrics.values()) == {4 * 64 * 64 + 4 * 64}
    shapes = at.dataframe[0].value
    assert shapes.loc[shapes["step"] == "concatenation", "here"].item() == "(1, 10, 64)"

    at.toggle(key="multi_head_shared").set_value(False).run()
    assert_ok(at)
    grid = chart(at, "Attention weights of all 8 heads")["data"]
    assert grid[0]["showscale"] and grid[0]["colorbar"]["title"]["text"] == "weight ÷ head max"
    for h in range(8):  # colours: each head ÷ its own max (one 0–1 colour bar for all); hover: the weight itself
        close(values(grid[h]["customdata"]), weights[h])
        close(values(grid[h]["z"]), weights[h] / weights[h].max())
        assert (grid[h]["zmin"], grid[h]["zmax"]) == (0, 1)


def test_multi_head_indivisible_d_model_warns_with_valid_head_counts():
    at = open_page(MHA)
    at.slider(key="multi_head_heads").set_value(7).run()
    assert_ok(at)
    assert any("Head counts that work with d_model = 32: 1, 2, 4, 8, 16" in w.value for w in at.warning)
    built = [s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Attention weights of all")]
    assert not built  # only section 1 (the English model) is drawn; the random-weight sections stop
    at.slider(key="multi_head_d_model").set_value(42).run()
    assert_ok(at)
    assert not at.warning and chart(at, "Attention weights of all 7 heads")


def test_multi_head_trained_section_shows_a_shipped_models_heads():
    at = open_page(MHA)
    assert not at.exception, error_messages(at)
    name = at.selectbox(key="multi_head_trained").value
    model, card = load_model(MODELS_DIR / name)
    task = get_task(card["task"])
    expected = predict(model, task, task.default_input).self_attention.double()  # (L, H, T, T): the core's forward
    layer = at.selectbox(key="multi_head_trained_layer").value
    assert layer == expected.shape[0] - 1  # the last layer first
    for h, trace in enumerate(chart(at, f"Shipped {name} model, layer {layer}")["data"]):
        close(values(trace["z"]), expected[layer, h])
    trained = chart(at, f"How different the trained heads of layer {layer} are")
    close(values(trained["data"][0]["z"]), pairwise_head_divergence(expected[layer]))
    at.selectbox(key="multi_head_trained_layer").set_value(0).run()
    assert not at.exception, error_messages(at)
    for h, trace in enumerate(chart(at, f"Shipped {name} model, layer 0")["data"]):
        close(values(trace["z"]), expected[0, h])


def test_step_by_step_trained_mode_follows_a_shipped_heads_own_q_k_v():
    at = open_page(STEP)
    at.radio(key="attention_step_by_step_mode").set_value("A task model").run()
    assert not at.exception, error_messages(at)
    name = at.selectbox(key="attention_step_by_step_trained").value
    model, card = load_model(MODELS_DIR / name)
    task = get_task(card["task"])
    for layer, head in ((0, 0), (1, 2)):
        at.selectbox(key="attention_step_by_step_trained_layer").set_value(layer)
        at.selectbox(key="attention_step_by_step_trained_head").set_value(head).run()
        assert not at.exception, error_messages(at)
        h = head_inputs(model, task, task.default_input, layer, head)  # the model's own q, k, v and weights
        d_k = h.q.shape[-1]
        close(values(chart(at, "Q | K | V")["data"][0]["z"]), torch.cat([h.q, h.k, h.v], dim=1))
        close(values(chart(at, "4 · softmax weights")["data"][0]["z"]), h.weights)  # = the model's attention
        close(values(chart(at, "Stage 1")["data"][0]["z"]), h.q @ h.k.T)  # raw scores QKᵀ of this head
        assert any(f"÷ {math.sqrt(d_k):.3f}" in c.value for c in at.caption if "÷ √d_k" in c.value)
        assert any("reproduces the model" in c.value and "Δ" in c.value for c in at.caption)  # says it matches
    at.text_input(key=f"attention_step_by_step_trained_text_{task.name}").input("ab🤖").run()
    assert not at.exception and any("'🤖'" in w.value for w in at.warning)
