"""The transformer block: follow the residual stream, compare norms and FFNs, stack 24 layers post-LN vs pre-LN."""

import pandas as pd
import streamlit as st
import torch

from core.lab.residual import (
    LAYER_KINDS,
    activation_curve,
    depth_profile,
    ffn_parameters,
    layer_parameter_counts,
    norm_comparison,
    sentence_walk,
    spread_tokens,
)
from figures.block import (
    activation_figure,
    count_bars,
    depth_figure,
    norm_stats_figure,
    residual_steps_figure,
    shape_text,
)
from ui.charts import show_figure
from ui.inputs import SentenceBox, pick_input, stop_on_problem
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "transformer_block"
# The FFN non-linearities the page compares (core.blocks.ACTIVATIONS also has "gelu_tanh", GPT-2's approximation of
# GELU, which reads pretrained checkpoints and would draw on top of the GELU curve).
ACTIVATION_NAMES = {"relu": "ReLU", "gelu": "GELU", "swiglu": "SwiGLU: SiLU(x)·x"}
SENTENCE = SentenceBox("Sentence", "the cat sat on the mat", max_words=24, max_chars=400, key="sentence")


@st.cache_data(max_entries=32)
def walk_view(words: tuple[str, ...], kind: str, norm_first: bool, d_model: int, n_heads: int, seed: int,
              device: str):
    steps = sentence_walk(list(words), kind, norm_first=norm_first, d_model=d_model, n_heads=n_heads,
                          d_ff=4 * d_model, seed=seed, device=device)
    return pd.DataFrame({
        "step": [s.name for s in steps], "shape": [shape_text(s.shape) for s in steps],
        "per-token RMS": [s.token_rms for s in steps], "mean": [float(s.tensor.mean()) for s in steps],
        "std": [float(s.tensor.std(unbiased=False)) for s in steps], "what": [s.note for s in steps],
    })


@st.cache_data(max_entries=16)
def depth_view(n_layers: int, seed: int, device: str):
    runs = {label: depth_profile(n_layers, 64, 4, 256, norm_first=nf, seed=seed, device=device)
            for label, nf in (("post-LN (2017)", False), ("pre-LN (GPT-2)", True))}
    return {label: (p.residual_rms.numpy(), p.grad_norm.numpy()) for label, p in runs.items()}


@st.cache_data
def activation_curves():
    xs = torch.linspace(-4, 4, 161)
    return xs.numpy(), {name: activation_curve(a, xs).numpy() for a, name in ACTIVATION_NAMES.items()}


def show_residual(settings) -> None:
    picked = pick_input(SLUG, sentence=SENTENCE)
    c1, c2, c3 = st.columns(3)
    d_model = c1.slider("d_model", 16, 256, 64, step=16, key=f"{SLUG}_d_model")
    n_heads = c2.select_slider("Heads", [1, 2, 4, 8], 4, key=f"{SLUG}_heads")
    norm_first = c3.toggle("pre-LN (norm_first)", False, key=f"{SLUG}_norm_first")
    stop_on_problem(picked)
    words = picked.words
    st.caption(f"{len(words)} tokens → seeded word vectors (seed {settings.seed}) → one seeded layer, d_ff = 4·d_model. "
               f"Device: {settings.device}. The decoder layer cross-attends to an encoder layer's output for the same sentence.")
    kind = st.radio("Layer", LAYER_KINDS, horizontal=True, key=f"{SLUG}_kind",
                    help="The decoder layer adds masked self-attention and cross-attention over the encoder output.")
    table = walk_view(words, kind, norm_first, d_model, n_heads, settings.seed, str(settings.device))
    title = f"{kind.capitalize()} layer ({'pre-LN' if norm_first else 'post-LN'}), step by step"
    fig = residual_steps_figure(table["step"], table["shape"], table["per-token RMS"], title)
    show_figure(fig, key=f"{SLUG}_steps")
    st.dataframe(table, hide_index=True, width="stretch", column_config={  # float noise such as -1e-9 reads as 0
        column: st.column_config.NumberColumn(format="%.4f") for column in ("per-token RMS", "mean", "std")})


def show_norms(settings) -> None:
    offset = st.slider("Spread of the token means (± offset)", 0.0, 5.0, 3.0, step=0.5, key=f"{SLUG}_offset")
    x = spread_tokens(8, 64, offset, settings.generator())
    stats = norm_comparison(x)
    show_figure(norm_stats_figure(stats, [f"t{i}" for i in range(8)]), key=f"{SLUG}_norms")
    st.caption("8 tokens of width 64 with different means and scales (seeded). LayerNorm output: mean 0, std 1 for "
               "every token. RMSNorm output: root-mean-square 1, but the mean (and so the std) is left as it was.")


def show_ffn(settings) -> None:
    c1, c2, c3 = st.columns(3)
    d_model = c1.select_slider("d_model", [64, 128, 256, 512, 768, 1024], 512, key=f"{SLUG}_ffn_d")
    ratio = c2.slider("d_ff / d_model", 1, 8, 4, key=f"{SLUG}_ffn_ratio")
    match = c3.toggle("SwiGLU at ⅔·d_ff (LLaMA)", True, key=f"{SLUG}_ffn_match")
    show_figure(activation_figure(*activation_curves()), key=f"{SLUG}_acts")
    d_ff = ratio * d_model
    widths = {a: round(2 * d_ff / 3) if a == "swiglu" and match else d_ff for a in ACTIVATION_NAMES}
    counts = {f"{a} (d_ff={w})": ffn_parameters(d_model, w, a) for a, w in widths.items()}
    show_figure(count_bars(counts, f"FFN parameters at d_model={d_model}"), key=f"{SLUG}_ffn_params")


def show_depth(settings) -> None:
    n_layers = st.slider("Layers", 2, 48, 24, key=f"{SLUG}_layers")
    show_figure(depth_figure(depth_view(n_layers, settings.seed, str(settings.device))), key=f"{SLUG}_depth")
    st.caption("Freshly initialised stacks (d_model 64, 4 heads), one seeded input. Post-LN renormalises the stream "
               "after every sub-layer; pre-LN keeps a clean sum, so the stream grows with depth and a final norm "
               "follows. Gradients: the loss is mean(output · random target).")


def show_params(settings) -> None:
    c1, c2, c3, c4 = st.columns(4)
    kind = c1.radio("Layer", LAYER_KINDS, key=f"{SLUG}_p_kind")
    d_model = c2.select_slider("d_model", [64, 128, 256, 512, 768, 1024], 512, key=f"{SLUG}_p_d")
    n_heads = c3.select_slider("Heads", [1, 2, 4, 8, 16], 8, key=f"{SLUG}_p_heads")
    activation = c4.radio("FFN", tuple(ACTIVATION_NAMES), key=f"{SLUG}_p_act")
    counts = layer_parameter_counts(kind, d_model, n_heads, 4 * d_model, activation=activation)
    total = sum(counts.values())
    show_figure(count_bars(counts, f"{kind.capitalize()} layer, d_model={d_model}, d_ff={4 * d_model}: "
                                   f"{total:,} parameters"), key=f"{SLUG}_params")
    st.caption("Counted from the live core module (built on PyTorch's meta device: shapes only, no memory).")


VIEWS = {"Residual stream": show_residual, "LayerNorm vs RMSNorm": show_norms, "Feed-forward": show_ffn,
         "Post-LN vs pre-LN": show_depth, "Parameter counts": show_params}
settings = get_settings()
lab = page_shell(SLUG)
with lab:
    view = st.radio("Show", tuple(VIEWS), horizontal=True, key=f"{SLUG}_view")
    VIEWS[view](settings)
