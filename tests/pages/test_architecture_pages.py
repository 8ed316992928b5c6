"""AppTest of the positional-encodings, transformer-block and architecture-families pages (the ViT page has
test_vit_page.py): the numbers in each chart spec equal what the core computes for the same inputs; bad inputs give
messages, never tracebacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.lab.families import FAMILY_NAMES, FAMILY_TASKS, family_masks, run_example, untrained_model
from core.lab.permutation import permutation_study, position_score_grid, position_similarity
from core.lab.residual import (
    activation_curve,
    depth_profile,
    ffn_parameters,
    layer_parameter_counts,
    norm_comparison,
    sentence_walk,
    spread_tokens,
)
from core.positional import (
    RelativePositionBias,
    alibi_bias,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_encoding,
)
from core.train.checkpoints import MODELS_DIR, load_model, read_card, shipped_names
from core.train.tasks import get_task
from tests.apptest_utils import chart_specs, error_messages, open_page
from tests.apptest_utils import plotly_values as array
from tests.pages import english_reference as english

POSITIONAL = "pages/multihead_positions/positional_encodings.py"
BLOCK = "pages/architectures/transformer_block.py"


def chart(at, title_start: str) -> dict:
    """The chart whose title starts with ``title_start``."""
    specs = chart_specs(at)
    found = [s for s in specs if s["layout"].get("title", {}).get("text", "").startswith(title_start)]
    assert found, (title_start, [s["layout"].get("title", {}).get("text") for s in specs])
    return found[0]


def show(at, slug: str, view: str):
    at.radio(key=f"{slug}_view").set_value(view).run()
    assert not at.exception, error_messages(at)
    return at


def metric(at, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


# ------------------------------------------------------------------------------------------------ positional encodings
def test_permutation_bars_are_the_core_deviations():
    at = open_page(POSITIONAL, settings_seed=3)
    assert not at.exception, error_messages(at)
    results = permutation_study("the cat sat on the mat".split(), seed=3, shuffle=0)
    bars = {t["name"]: array(t["y"]) for t in chart(at, "Shuffle the tokens")["data"]}
    for mode, result in results.items():  # the 'none' bars are float32 round-off (~1e-8), which depends on the
        # thread count (the page's process uses fewer threads than this one): compared to 1e-6, far under the 1e-3 signal
        np.testing.assert_allclose(bars[mode], result.deviation.numpy(), rtol=1e-5, atol=1e-6)
    assert bars["none"].max() < 1e-5 and min(bars[m].max() for m in ("sinusoidal", "learned", "rope")) > 1e-3
    assert float(metric(at, "max |Δ|, none")) < 1e-5
    shuffled = [w for w in np.array("the cat sat on the mat".split())[results["none"].perm.numpy()]]
    assert at.text[0].value == "Shuffled: " + " ".join(shuffled)


def test_permutation_needs_two_words_and_caps_long_sentences():
    at = open_page(POSITIONAL)
    at.text_input(key="positional_encodings_sentence").input("alone").run()
    assert not at.exception and any("at least two words" in w.value for w in at.warning)
    at.text_input(key="positional_encodings_sentence").input(" ".join(f"w{i}" for i in range(30))).run()
    assert not at.exception and any("at most 16" in w.value for w in at.warning)
    at.text_input(key="positional_encodings_sentence").input("<b>x</b> y").run()
    labels = chart(at, "Shuffle the tokens")["data"][0]["x"]
    assert not any("<" in label for label in labels) and any("&lt;b&gt;x" in label for label in labels)  # no tags


def test_sinusoidal_table_and_distance_curves_come_from_the_core():
    at = show(open_page(POSITIONAL), "positional_encodings", "Sinusoidal")
    at.slider(key="positional_encodings_length").set_value(12).run()
    table = sinusoidal_encoding(12, 64)
    np.testing.assert_allclose(array(chart(at, "Sinusoidal encoding")["data"][0]["z"]), table.numpy(), rtol=1e-6,
                               atol=1e-7)
    sim = position_similarity(table, "dot").numpy()
    lines = chart(at, "PE(m)·PE(n)")["data"]
    for trace, start in zip(lines, (0, 3, 6), strict=True):
        np.testing.assert_allclose(array(trace["y"]), sim[start], rtol=1e-5, atol=1e-6)


def test_rope_scores_depend_on_the_offset_only_and_absolute_ones_do_not():
    at = show(open_page(POSITIONAL), "positional_encodings", "RoPE")
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(16, generator=gen), torch.randn(16, generator=gen)
    grid = position_score_grid(q, k, 24, "rope").numpy()
    np.testing.assert_allclose(array(chart(at, "score(q at m, k at n)")["data"][0]["z"]), grid, rtol=1e-5, atol=1e-6)
    assert float(metric(at, "max spread along any diagonal")) < 1e-4
    plane = chart(at, "RoPE rotation plane 0")["data"]
    assert [t["name"] for t in plane][-2:] == ["q at m=2", "k at n=5"]
    at.radio(key="positional_encodings_method").set_value("sinusoidal").run()
    assert float(metric(at, "max spread along any diagonal")) > 0.1


def test_alibi_panels_are_the_core_bias_with_their_slopes():
    at = show(open_page(POSITIONAL), "positional_encodings", "ALiBi")
    at.slider(key="positional_encodings_alibi_heads").set_value(4).run()
    spec = chart(at, "ALiBi bias")
    bias = alibi_bias(4, 10, 10).numpy()
    assert len(spec["data"]) == 4
    for h, trace in enumerate(spec["data"]):
        np.testing.assert_allclose(array(trace["z"]), bias[h], rtol=1e-6, atol=1e-6)
    slopes = alibi_slopes(4).tolist()
    caption = next(c.value for c in at.caption if c.value.startswith("Slopes:"))
    assert all(f"h{h}: {s:.5g}" in caption for h, s in enumerate(slopes))


def test_t5_buckets_come_from_the_core():
    at = show(open_page(POSITIONAL), "positional_encodings", "T5 relative bias")
    offsets = torch.arange(-128 - 16, 128 + 17)
    expected = relative_position_bucket(offsets, bidirectional=True, num_buckets=32, max_distance=128)
    np.testing.assert_array_equal(array(chart(at, "T5 relative-position buckets")["data"][0]["y"]), expected.numpy())
    buckets = RelativePositionBias(4).buckets(16, 16).numpy()
    np.testing.assert_array_equal(array(chart(at, "Bucket of every")["data"][0]["z"]), buckets)


def test_learned_positions_say_which_model():
    at = show(open_page(POSITIONAL), "positional_encodings", "Learned")
    spec = chart(at, "Learned positions of")
    learned = [n for n in shipped_names() if read_card(MODELS_DIR / n)["config"]["positional"] == "learned"]
    name = f"'{learned[0]}'" if learned else "UNTRAINED"  # the title names the model the table comes from
    assert name in spec["layout"]["title"]["text"]
    z = array(spec["data"][0]["z"])
    np.testing.assert_allclose(np.diag(z), 1.0, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------ transformer block
def test_residual_stream_bars_are_the_core_walk():
    at = open_page(BLOCK)
    assert not at.exception, error_messages(at)
    words = "the cat sat on the mat".split()
    for kind in ("encoder", "decoder"):
        at.radio(key="transformer_block_kind").set_value(kind).run()
        steps = sentence_walk(words, kind, norm_first=False, d_model=64, n_heads=4, d_ff=256, seed=0)
        bars = chart(at, f"{kind.capitalize()} layer (post-LN)")["data"][0]
        np.testing.assert_allclose(array(bars["y"]), [s.token_rms for s in steps], rtol=1e-5, atol=1e-6)
        assert bars["text"] == [f"({', '.join(map(str, s.shape))})" for s in steps]
    at.radio(key="transformer_block_kind").set_value("encoder").run()
    at.toggle(key="transformer_block_norm_first").set_value(True).run()
    names = chart(at, "Encoder layer (pre-LN)")["data"][0]["x"]
    assert names[1] == "1·LayerNorm (before self-attention)"


def test_norm_view_matches_the_core():
    at = show(open_page(BLOCK), "transformer_block", "LayerNorm vs RMSNorm")
    stats = norm_comparison(spread_tokens(8, 64, 3.0, torch.Generator().manual_seed(0)))
    traces = {(t["name"], t.get("xaxis", "x")): array(t["y"]) for t in chart(at, "LayerNorm centres")["data"]}
    for name, (mean, std) in stats.items():
        np.testing.assert_allclose(traces[(name, "x")], mean.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(traces[(name, "x2")], std.numpy(), rtol=1e-4, atol=1e-6)


def test_ffn_view_counts_parameters_of_the_live_modules():
    at = show(open_page(BLOCK), "transformer_block", "Feed-forward")
    bars = chart(at, "FFN parameters at d_model=512")["data"][0]
    assert list(array(bars["x"]).astype(int)) == [ffn_parameters(512, 2048, "relu"), ffn_parameters(512, 2048, "gelu"),
                                                  ffn_parameters(512, 1365, "swiglu")]
    curves = {t["name"]: array(t["y"]) for t in chart(at, "FFN activations")["data"]}
    np.testing.assert_allclose(curves["GELU"], activation_curve("gelu", torch.linspace(-4, 4, 161)).numpy(), rtol=1e-5,
                               atol=1e-7)


def test_depth_view_is_the_core_profile():
    at = show(open_page(BLOCK), "transformer_block", "Post-LN vs pre-LN")
    at.slider(key="transformer_block_layers").set_value(6).run()
    traces = chart(at, "Post-LN vs pre-LN")["data"]
    for name, norm_first in (("post-LN (2017)", False), ("pre-LN (GPT-2)", True)):
        profile = depth_profile(6, 64, 4, 256, norm_first=norm_first, seed=0)
        rms, grad = (array(t["y"]) for t in traces if t["name"] == name)
        np.testing.assert_allclose(rms, profile.residual_rms.numpy(), rtol=1e-4)
        np.testing.assert_allclose(grad, profile.grad_norm.numpy(), rtol=1e-3)


def test_parameter_view_adds_up():
    at = show(open_page(BLOCK), "transformer_block", "Parameter counts")
    at.radio(key="transformer_block_p_kind").set_value("decoder").run()
    counts = layer_parameter_counts("decoder", 512, 8, 2048, activation="relu")
    spec = chart(at, "Decoder layer, d_model=512")
    assert list(array(spec["data"][0]["x"]).astype(int)) == list(counts.values())
    assert f"{sum(counts.values()):,} parameters" in spec["layout"]["title"]["text"]


# ------------------------------------------------------------------------------------------------ architecture families
FAMILIES = "pages/architectures/architecture_families.py"


def _family_model(family: str):
    """The model the page shows: the shipped one for the family (its usual task first), else the untrained one."""
    cards = {name: read_card(MODELS_DIR / name) for name in shipped_names()}
    names = [n for n, c in cards.items() if c["family"] == family]
    names = [n for n in names if cards[n]["task"] == FAMILY_TASKS[family]] or names
    if names:
        model, card = load_model(MODELS_DIR / names[0])
        return model, get_task(card["task"])
    task = get_task(FAMILY_TASKS[family])
    return untrained_model(task, seed=0), task


def _expected_map(view, layer: int = 0) -> np.ndarray:
    weights = view.weights[layer].mean(0).numpy()
    return np.where(view.mask.numpy(), weights, np.nan)


def _assert_map(spec_z, expected: np.ndarray) -> None:
    z = np.array([[np.nan if v is None else v for v in row] for row in spec_z], dtype=float) \
        if isinstance(spec_z, list) else array(spec_z)
    np.testing.assert_array_equal(np.isnan(z), np.isnan(expected))  # masked cells are blank
    np.testing.assert_allclose(np.nan_to_num(z), np.nan_to_num(expected), rtol=1e-4, atol=1e-6)


def test_family_overview_masks_come_from_the_core():
    at = open_page(FAMILIES)
    assert not at.exception, error_messages(at)
    spec = chart(at, "Masks: who may attend to whom")
    masks = family_masks(6)
    assert [a["text"] for a in spec["layout"]["annotations"]] == list(masks)
    for trace, mask in zip(spec["data"], masks.values(), strict=True):
        np.testing.assert_array_equal(array(trace["z"]), mask.numpy().astype(float))
    assert chart(at, "Data flow of the three families")


@pytest.mark.parametrize("family", ["encoder", "decoder", "seq2seq"])
def test_family_live_example_matches_the_core(family):
    at = open_page(FAMILIES)
    radio = at.radio(key="architecture_families_family")
    radio.set_value(next(o for o in radio.options if o.startswith(FAMILY_NAMES[family]))).run()
    assert not at.exception, error_messages(at)
    model, task = _family_model(family)
    text = task.default_input
    result = run_example(model, task, text)
    view = result.attentions[-1]  # the page opens on the last attention (cross-attention for seq2seq)
    _assert_map(chart(at, view.name)["data"][0]["z"], _expected_map(view))
    assert any(t.value.startswith(f"Model output: {result.answer}") for t in at.text)
    if family == "decoder":
        bars = chart(at, "Next token after the prompt")["data"][0]
        np.testing.assert_allclose(array(bars["y"]), [p for _, p in result.next_token], rtol=1e-5, atol=1e-6)
    trained = bool([n for n in shipped_names() if read_card(MODELS_DIR / n)["family"] == family])
    assert trained or any("UNTRAINED" in w.value for w in at.warning)


def test_family_bad_input_gets_a_message():
    at = open_page(FAMILIES)
    for text in ("", "<b>hi</b>", "abc=abc"):  # empty, foreign characters, nothing hidden
        at.text_input(key="architecture_families_encoder_text").input(text).run()
        assert not at.exception, error_messages(at)
        assert any("cannot be used" in w.value for w in at.warning)


@pytest.mark.skipif(not english.HAVE_ENGLISH, reason="the English models are not in models/")
def test_family_english_bert_sees_both_sides_and_the_gpt_the_left_on_your_text():
    at = open_page(FAMILIES)
    assert not at.exception, error_messages(at)
    text = at.text_input(key="architecture_families_english_text").value
    trained = chart(at, f"Trained: {english.GPT} vs {english.BERT}: layer 0, head 0")["data"]
    untrained = chart(at, f"Untrained twins (seed 0): {english.GPT} vs {english.BERT}: layer 0, head 0")["data"]
    for drawn, seed in ((trained, None), (untrained, 0)):
        english.assert_map(array(drawn[0]["z"]), english.blank_masked(english.head_weights(english.GPT, text, 0, 0, seed), english.GPT))
        english.assert_map(array(drawn[1]["z"]), english.head_weights(english.BERT, text, 0, 0, seed))
    assert trained[1]["x"][0] == "0·[CLS]" and trained[0]["x"][0] == "0·&lt;|endoftext|&gt;"
    assert not np.allclose(np.nan_to_num(array(trained[1]["z"])), np.nan_to_num(array(untrained[1]["z"])))

    at.selectbox(key="architecture_families_english_layer").set_value(1)
    at.selectbox(key="architecture_families_english_head").set_value(2).run()
    moved = chart(at, f"Trained: {english.GPT} vs {english.BERT}: layer 1, head 2")["data"]
    english.assert_map(array(moved[0]["z"]), english.blank_masked(english.head_weights(english.GPT, text, 1, 2), english.GPT))
    assert not np.allclose(np.nan_to_num(array(moved[1]["z"])), np.nan_to_num(array(trained[1]["z"])))

    at.text_input(key="architecture_families_english_text").input(english.EMOJI_TEXT).run()
    assert not at.exception, error_messages(at)
    english.assert_map(array(chart(at, "Trained: ")["data"][1]["z"]), english.head_weights(english.BERT, english.EMOJI_TEXT, 1, 2))
    at.text_input(key="architecture_families_english_text").input(english.LONG_TEXT).run()
    assert sum("was cut" in i.value for i in at.info) == 2
    at.text_input(key="architecture_families_english_text").input("").run()
    assert not at.exception, error_messages(at)
    assert any("empty" in w.value for w in at.warning)
    assert chart(at, "bidirectional self-attention, layer 1")  # the task models' live example still runs


# ------------------------------------------------------------------------------------------------ every view, extremes
def _extreme(widget, high: bool):
    if widget.type in ("slider", "number_input"):
        return widget.max if high else widget.min
    if widget.type in ("select_slider", "radio", "selectbox"):
        options = list(widget.options)
        return options[-1 if high else 0]
    if widget.type in ("toggle", "checkbox"):
        return high
    return None


@pytest.mark.parametrize("module,view_key", [(POSITIONAL, "positional_encodings_view"),
                                             (BLOCK, "transformer_block_view"),
                                             (FAMILIES, "architecture_families_family")])
@pytest.mark.parametrize("high", [False, True], ids=["min", "max"])
def test_every_view_survives_its_widgets_extremes(module, view_key, high):
    """The registry-wide fuzz only reaches the default view's widgets; this visits every view of the page."""
    at = open_page(module)
    for view in list(at.radio(key=view_key).options):
        at.radio(key=view_key).set_value(view).run()
        for kind in ("slider", "select_slider", "selectbox", "radio", "toggle"):
            for widget in at.get(kind):
                if not widget.key or widget.key == view_key or widget.key.startswith(("settings_", "quiz")):
                    continue
                value = _extreme(widget, high)
                if value is not None:
                    widget.select(value) if kind == "selectbox" else widget.set_value(value)
        at.run()
        assert not at.exception, (view, error_messages(at))
        assert chart_specs(at) or at.warning, view  # a figure, or a message saying what to change
