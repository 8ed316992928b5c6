"""Dot, scaled dot, additive (Bahdanau) and multiplicative (Luong) scores on the same inputs, with their cost."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.attention import SCORINGS
from core.lab.scoring_cost import (
    SCORING_NAMES,
    ScoringTiming,
    build_scorers,
    count_parameters,
    parameter_formula,
    predicted_timing_peak_bytes,
    run_scoring,
    score_flops,
    time_scorings,
)
from core.lab.toy_inputs import seeded_embeddings, seeded_qkv
from core.measure.memory_guard import check_memory
from figures.attention_steps import token_labels
from figures.heatmap import heatmap
from figures.scoring import cost_figure
from ui.charts import show_figure
from ui.inputs import SentenceBox, pick_input, stop_on_problem
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "scoring_functions"
SENTENCE = SentenceBox("Sentence (self-attention: the same tokens are queries and keys)",
                       "the animal did not cross the street because it was too tired", max_words=32)


@st.cache_data(max_entries=32, show_spinner=False)
def weight_maps(tokens: tuple[str, ...], d: int, d_hidden: int, identity_w: bool, seed: int,
                device: str) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Every scoring's weights on the same q, k, v (T, d), and each live scorer's parameter count."""
    q, k, v = (t.to(device) for t in seeded_qkv(seeded_embeddings(tokens, d, seed), d, seed))  # (T, d) each
    scorers = build_scorers(d, d_hidden, seed, identity_w=identity_w)
    weights = {name: run_scoring(q, k, v, name, None if m is None else m.to(device)).weights.cpu().double().numpy()
               for name, m in scorers.items()}
    return weights, {name: count_parameters(m) for name, m in scorers.items()}


@st.cache_data(max_entries=32, show_spinner="Timing the four scoring functions…")
def timing(length: int, d: int, d_hidden: int, seed: int, device: str) -> ScoringTiming:
    """Best time of each scoring's score matrix at (length, d, h) on the device (measured once per setting)."""
    return time_scorings(length, d, d_hidden, seed, torch.device(device), repeats=5, time_budget_s=0.1)


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    picked = pick_input(SLUG, sentence=SENTENCE)
    c1, c2, c3 = st.columns(3)
    d = c1.slider("d (query/key width)", 2, 64, 16, key=f"{SLUG}_d")
    d_hidden = c2.slider("h (additive hidden width)", 1, 64, 16, key=f"{SLUG}_d_hidden")
    identity_w = c3.toggle("Luong W starts as the identity", False, key=f"{SLUG}_identity_w",
                           help="With W = I the multiplicative score is exactly the dot product.")
    stop_on_problem(picked)
    tokens = picked.words
    weights, counted = weight_maps(tokens, d, d_hidden, identity_w, settings.seed, str(settings.device))
    labels = token_labels(tokens)
    st.caption(f"Tokens: lower-cased whitespace words. Embeddings, W_Q, W_K, W_V and the scorers' weights: seeded "
               f"random initialisation (seed {settings.seed}), untrained — the maps show how each function scores, "
               "not what a trained model would attend to.")

    st.subheader("Same q, k, v — four scoring functions")
    for row in (SCORINGS[:2], SCORINGS[2:]):
        for col, name in zip(st.columns(2), row, strict=True):
            with col:
                show_figure(heatmap(weights[name], labels, labels, f"{SCORING_NAMES[name]}", zmin=0, zmax=1,
                                    height=340), key=f"{SLUG}_{name}")

    st.subheader("Parameters and cost")
    length = st.select_slider("Timing length L (queries = keys)", [16, 64, 128, 256, 512, 1024], value=128,
                              key=f"{SLUG}_length")
    guard = check_memory(f"Timing the four scoring functions at L = {length:,}, d = {d}, h = {d_hidden}",
                         predicted_timing_peak_bytes(length, d, d_hidden), budget_bytes=settings.memory_budget_bytes,
                         device=settings.device, advice="The additive score builds an (L, L, h) tensor: choose a "
                         "shorter timing length L or a smaller h, or raise the memory budget in the sidebar.")
    timed = timing(length, d, d_hidden, settings.seed, str(settings.device)) if guard.allowed else None
    table = pd.DataFrame([{
        "scoring": SCORING_NAMES[name],
        "params (live module)": counted[name],
        "formula": "none" if name in ("dot", "scaled_dot") else " = ".join(
            map(str, parameter_formula(name, d, d_hidden))),
        "FLOPs": score_flops(name, length, length, d, d_hidden),
        "median ms": None if timed is None else round(timed.seconds[name] * 1e3, 4),
    } for name in SCORINGS])
    st.dataframe(table, hide_index=True, width="stretch")
    if timed is not None:
        show_figure(cost_figure([SCORING_NAMES[n] for n in SCORINGS],
                                [score_flops(n, length, length, d, d_hidden) for n in SCORINGS],
                                [timed.seconds[n] * 1e3 for n in SCORINGS], length, d, d_hidden, timed.device),
                    key=f"{SLUG}_cost")
    else:
        st.warning(guard.message)
    st.caption("FLOPs: multiply-add = 2, tanh or division = 1. dot 2·L²·d; scaled + L²; multiplicative 2·L·d² + "
               "2·L²·d; additive 2·2L·d·h + 4·L²·h (it also builds an (L, L, h) tensor). Times: the median of up to 5 "
               "runs (fewer when one run is slow) of the score matrix alone, measured once per setting on this device "
               "(cached).")

    st.subheader("A little history")
    st.markdown(
        "- **Additive** — Bahdanau, Cho & Bengio (2014) scored each encoder state against the decoder state with a "
        "small feed-forward net, vᵀ tanh(W₁q + W₂k): the first neural attention for translation.\n"
        "- **Multiplicative** — Luong, Pham & Manning (2015) compared *dot*, *general* (qᵀWk) and *concat* "
        "(additive) scores; the cheap bilinear forms worked as well and run as one matrix product.\n"
        "- **Scaled dot product** — Vaswani et al. (2017) dropped W altogether (the projections W_Q, W_K already "
        "learn it) and divided by √d_k so that wide heads do not saturate the softmax (see *Why divide by √d_k*)."
    )
