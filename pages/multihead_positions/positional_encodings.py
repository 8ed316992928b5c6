"""Positional encodings: attention is blind to order; sinusoids, learned tables, RoPE, ALiBi and T5 buckets fix it."""

import numpy as np
import streamlit as st
import torch

from core import positional as pe
from core.lab import permutation as order
from core.lab.toy_inputs import seeded_module
from figures import positional as figs
from figures.attention_steps import token_labels
from ui.charts import show_figure
from ui.inputs import SentenceBox, pick_input, stop_on_problem
from ui.models import load_shipped, shipped_cards
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "positional_encodings"
SENTENCE = SentenceBox("A sentence (words separated by spaces)", "the cat sat on the mat", 16, 400, key="sentence")


@st.cache_data(max_entries=32)
def permutation_view(words: tuple[str, ...], seed: int, shuffle: int, device: str):
    results = order.permutation_study(list(words), seed=seed, shuffle=shuffle, device=device)
    return results["none"].perm.tolist(), {mode: r.deviation.cpu().numpy() for mode, r in results.items()}


@st.cache_data(max_entries=32)
def rope_view(seed: int, d_head: int, length: int, method: str):
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(d_head, generator=gen), torch.randn(d_head, generator=gen)
    grid = order.position_score_grid(q, k, length, method)
    paths = [order.rope_plane(v, torch.arange(length), pair) for v in (q, k) for pair in range(d_head // 2)]
    return grid.numpy(), float(order.diagonal_spread(grid)[1].max()), [p.numpy() for p in paths]


@st.cache_data(max_entries=8)
def learned_table(seed: int) -> tuple[np.ndarray, str, str]:
    """(table, short name, description): a shipped model's learned positions, else a labelled untrained table."""
    for name, card in shipped_cards().items():
        module = order.first_module(load_shipped(name)[0], pe.LearnedPositionalEmbedding)
        if module is not None:
            about = f"Trained model '{name}' ({card['task']} task, held-out exact match {card['held_out']['exact_match']:.0%})."
            return module.embedding.weight.detach().numpy(), f"'{name}'", about
    module = seeded_module(lambda: pe.LearnedPositionalEmbedding(32, 64), seed)
    return module.embedding.weight.detach().numpy(), f"UNTRAINED, seed {seed}", ""


def show_permutation(settings) -> None:
    picked = pick_input(SLUG, sentence=SENTENCE)
    shuffle = st.slider("Shuffle number (each value is another permutation)", 0, 20, 0, key=f"{SLUG}_shuffle")
    stop_on_problem(picked)
    if len(picked.words) < 2:
        st.warning("Type at least two words: a shuffle needs something to move.")
        return
    perm, deviations = permutation_view(picked.words, settings.seed, shuffle, str(settings.device))
    shuffled = [picked.words[i] for i in perm]
    st.text("Shuffled: " + " ".join(shuffled))
    show_figure(figs.permutation_bars(deviations, token_labels(shuffled)), key=f"{SLUG}_perm")
    for col, (mode, dev) in zip(st.columns(len(deviations)), deviations.items(), strict=True):
        col.metric(f"max |Δ|, {mode}", f"{dev.max():.1e}")
    st.caption(f"One seeded self-attention layer (random weights) on {settings.device}, the same for every scheme. "
               "Without positions the difference is float rounding (≈ 1e-7): the outputs are just permuted. Any "
               "positional scheme breaks it.")


def show_sinusoidal(settings) -> None:
    length = st.slider("Sequence length", 4, 128, 32, key=f"{SLUG}_length")
    d_model = st.slider("d_model", 8, 256, 64, step=8, key=f"{SLUG}_d_model")
    kind = st.radio("Similarity", ("dot", "cosine"), horizontal=True, key=f"{SLUG}_similarity")
    table = pe.sinusoidal_encoding(length, d_model)
    show_figure(figs.encoding_heatmap(table, f"Sinusoidal encoding, {length} positions × d_model {d_model}"),
                key=f"{SLUG}_table")
    sim = order.position_similarity(table, kind).numpy()
    show_figure(figs.score_vs_offset(sim, sorted({0, length // 4, length // 2}),
                                     f"PE(m)·PE(n) ({kind}) against the distance n − m", y_title=kind), key=f"{SLUG}_dist")
    st.caption("For sinusoids the dot product PE(m)·PE(m+Δ) = Σᵢ cos(Δ·ωᵢ) depends on Δ only: the curves overlap.")


def show_learned(settings) -> None:
    table, name, about = learned_table(settings.seed)
    if not about:
        st.warning("No shipped model has learned positions: showing an UNTRAINED, seeded random table. Untrained "
                   "vectors are nearly orthogonal, so the similarity is ≈ 0 off the diagonal.")
    length = st.slider("Positions shown", 4, table.shape[0], min(32, table.shape[0]), key=f"{SLUG}_learned_len")
    sim = order.position_similarity(torch.as_tensor(table[:length]), "cosine")
    show_figure(figs.similarity_heatmap(sim, f"Learned positions of {name}: cosine similarity"), key=f"{SLUG}_learned")
    if about:
        st.caption(f"{about} Nobody told it that position 5 is next to 6: the band along the diagonal was learned.")


def show_rope(settings) -> None:
    d_head, length = 16, 24
    c1, c2, c3 = st.columns(3)
    m = c1.slider("Query position m", 0, length - 1, 2, key=f"{SLUG}_m")
    n = c2.slider("Key position n", 0, length - 1, 5, key=f"{SLUG}_n")
    pair = c3.slider("Rotation plane i", 0, d_head // 2 - 1, 0, key=f"{SLUG}_pair")
    method = st.radio("Position applied to q and k", ("rope", "sinusoidal", "none"), horizontal=True,
                      help="rope: rotate q and k; sinusoidal: add PE(m) to q and PE(n) to k; none: no positions",
                      key=f"{SLUG}_method")
    grid, spread, paths = rope_view(settings.seed, d_head, length, method)
    show_figure(figs.rope_plane_figure(paths[pair], paths[d_head // 2 + pair], m, n, pair), key=f"{SLUG}_plane")
    st.caption(f"Plane {pair} turns by θ = 10000^(−{2 * pair}/{d_head}) = {10000 ** (-2 * pair / d_head):.4f} rad per "
               f"position (RoPE). Score at (m={m}, n={n}): {grid[m, n]:.4f}.")
    st.metric("max spread along any diagonal (max − min of score at equal n − m)", f"{spread:.2e}")
    show_figure(figs.score_grid_heatmap(grid, f"score(q at m, k at n), {method}"), key=f"{SLUG}_grid")
    show_figure(figs.score_vs_offset(grid, [0, 8, 16], "Score against the offset, from three query positions"),
                key=f"{SLUG}_offset")


# heatmap_grid figures cost ~75 ms for 8 panels: built once per input and shared. Read-only once built
# (st.plotly_chart and the export panel copy a figure, they never change it).
@st.cache_resource(max_entries=64, show_spinner=False)
def alibi_figure(n_heads: int, length: int):
    return figs.alibi_grid(pe.alibi_bias(n_heads, length, length), pe.alibi_slopes(n_heads).tolist())


@st.cache_resource(max_entries=32, show_spinner=False)
def t5_figures(buckets: int, max_distance: int, bidirectional: bool, seed: int):
    ids, bias = order.relative_bias_example(buckets, max_distance, bidirectional, seed=seed)
    return figs.bucket_map(ids), figs.relative_bias_grid(bias)


def show_alibi(settings) -> None:
    n_heads = st.slider("Heads", 1, 16, 8, key=f"{SLUG}_alibi_heads")
    length = st.slider("Sequence length", 4, 24, 10, key=f"{SLUG}_alibi_len")
    show_figure(alibi_figure(n_heads, length), key=f"{SLUG}_alibi")
    st.caption("Slopes: " + ", ".join(f"h{h}: {s:.5g}" for h, s in enumerate(pe.alibi_slopes(n_heads).tolist())))


def show_t5(settings) -> None:
    c1, c2, c3 = st.columns(3)
    buckets = c1.slider("Buckets", 4, 64, 32, step=2, key=f"{SLUG}_t5_buckets")
    max_distance = c2.slider("Max distance", 8, 256, 128, key=f"{SLUG}_t5_max")
    bidirectional = c3.toggle("Bidirectional (encoder)", True, key=f"{SLUG}_t5_bidir")
    offsets = torch.arange(-max_distance - 16, max_distance + 17)
    ids = pe.relative_position_bucket(offsets, bidirectional=bidirectional, num_buckets=buckets, max_distance=max_distance)
    show_figure(figs.bucket_curve(offsets, ids, buckets, max_distance), key=f"{SLUG}_t5_curve")
    bucket_map, bias_grid = t5_figures(buckets, max_distance, bidirectional, settings.seed)
    show_figure(bucket_map, key=f"{SLUG}_t5_map")
    show_figure(bias_grid, key=f"{SLUG}_t5_bias")


VIEWS = {"Blind to order": show_permutation, "Sinusoidal": show_sinusoidal, "Learned": show_learned,
         "RoPE": show_rope, "ALiBi": show_alibi, "T5 relative bias": show_t5}
settings = get_settings()
lab = page_shell(SLUG)
with lab:
    view = st.radio("Show", tuple(VIEWS), horizontal=True, key=f"{SLUG}_view")
    VIEWS[view](settings)
