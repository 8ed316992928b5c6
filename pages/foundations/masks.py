"""A gallery of masks (causal, padding, sliding window, prefix-LM, cross) and what each does to the weights."""

import numpy as np
import streamlit as st
import torch

from core.attention import attention
from core.lab.mask_gallery import (
    GALLERY,
    SELF_ATTENTION_KINDS,
    cross_projections,
    gallery_attention,
    gallery_cross_mask,
    gallery_masks,
)
from core.lab.toy_inputs import random_embeddings, seeded_embeddings, seeded_projections
from core.masks import causal_mask, cross_mask
from figures.attention_steps import token_labels
from figures.heatmap import heatmap
from figures.masks import mask_gallery_figure
from ui.charts import show_figure
from ui.english_heads import causal_vs_bidirectional
from ui.figure_memo import memo_figure
from ui.inputs import SentenceBox, pick_input
from ui.settings import get_settings
from ui.shell import page_shell
from ui.text_models import english_model_names

SLUG = "masks"
D_MODEL, D_K = 16, 8
MAX_TOKENS = 32
SOURCE = SentenceBox("Source (encoder input)", "le chat est assis sur le tapis", MAX_TOKENS, key="source")
TARGET = SentenceBox("Target (decoder input)", "the cat sat on the mat", MAX_TOKENS, key="target")


@st.cache_data(max_entries=64, show_spinner=False)
def self_attention(length: int, window: int, prefix_len: int, n_pad: int, also_causal: bool, seed: int,
                   device: str) -> tuple[np.ndarray, np.ndarray]:
    """masks (M, L, L) and the weights (M, L, L) of the same random q, k, v under each (cached on the inputs)."""
    masks = gallery_masks(length, window=window, prefix_len=prefix_len, n_pad=n_pad, also_causal=also_causal,
                          device=device)
    q, k, v = (t.to(device) for t in seeded_projections(D_MODEL, D_K, seed).project(
        random_embeddings(length, D_MODEL, seed)))  # (L, d_k) each
    trace = gallery_attention(masks, q, k, v)
    return torch.stack(list(masks.values())).cpu().double().numpy(), trace.weights.cpu().double().numpy()


@st.cache_data(max_entries=64, show_spinner=False)
def padded_cross_attention(target_len: int, source_len: int, n_pad: int, seed: int,
                           device: str) -> tuple[np.ndarray, np.ndarray]:
    """The gallery's cross-attention: mask (L_t, L_s) (the last n_pad source positions are padding) and the weights
    (L_t, L_s) of the self-attention's random target tokens over seeded random source tokens (cached on the inputs)."""
    mask = gallery_cross_mask(target_len, source_len, n_pad, device=device)  # (L_t, L_s)
    q, k, v = (t.to(device) for t in cross_projections(seeded_projections(D_MODEL, D_K, seed),
                                                       random_embeddings(target_len, D_MODEL, seed),
                                                       random_embeddings(source_len, D_MODEL, seed + 1)))
    return mask.cpu().double().numpy(), attention(q, k, v, mask).weights.cpu().double().numpy()


@st.cache_data(max_entries=64, show_spinner=False)
def cross_attention(target: tuple[str, ...], source: tuple[str, ...], seed: int, device: str) -> dict[str, np.ndarray]:
    """Decoder queries (target) over encoder keys/values (source), and the target's causal self-attention."""
    proj = seeded_projections(D_MODEL, D_K, seed)
    x_t = seeded_embeddings(target, D_MODEL, seed)  # (Lq, d_model)
    q, k, v = (t.to(device) for t in cross_projections(proj, x_t, seeded_embeddings(source, D_MODEL, seed)))
    cross = attention(q, k, v, cross_mask(len(target), len(source), device=device))
    causal = attention(*(t.to(device) for t in proj.project(x_t)), causal_mask(len(target), device=device))
    return {"cross": cross.weights.cpu().double().numpy(), "self": causal.weights.cpu().double().numpy()}


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    st.subheader("1. A gallery of masks: self-attention, and cross-attention over a padded source")
    c1, c2, c3, c4, c5 = st.columns(5)
    length = c1.slider("Sequence length", 2, 32, 8, key=f"{SLUG}_length")
    window = c2.slider("Window", 1, 32, 3, key=f"{SLUG}_window", help="Sliding window: |i − j| < window.")
    prefix_len = c3.slider("Prefix length", 0, 32, 3, key=f"{SLUG}_prefix", help="Prefix-LM: the first tokens "
                           "are seen by every query (bidirectional); the rest is causal.")
    n_pad = c4.slider("Padding tokens", 0, 31, 2, key=f"{SLUG}_padding", help="The last tokens are padding (of "
                      "the source, for cross-attention).")
    source_len = c5.slider("Source length (cross)", 2, 32, 11, key=f"{SLUG}_source_length",
                           help="Cross-attention: the target (queries) has the sequence length, the source (keys) "
                           "this many positions.")
    also_causal = st.toggle("AND every mask with the causal mask (as in a decoder)", False, key=f"{SLUG}_causal")
    n_src_pad, n_pad = min(n_pad, source_len), min(n_pad, length)
    masks, weights = self_attention(length, window, prefix_len, n_pad, also_causal, settings.seed,
                                    str(settings.device))
    x_mask, x_weights = padded_cross_attention(length, source_len, n_src_pad, settings.seed, str(settings.device))
    labels = token_labels([f"x{i}" for i in range(length - n_pad)] + ["<pad>"] * n_pad)
    source_pos = token_labels([f"s{i}" for i in range(source_len - n_src_pad)] + ["<pad>"] * n_src_pad)
    target_pos = token_labels([f"t{i}" for i in range(length)])
    st.caption(f"Inputs: {length} random tokens (seeded N(0, 1) embeddings, seed {settings.seed}), projected to "
               f"q, k, v of width {D_K} by seeded random W_Q, W_K, W_V. Masks from core.masks; weights from "
               "core.attention.attention, the same q, k, v under every mask. Cross-attention: the same tokens as "
               f"target queries t, over {source_len} other random source tokens s as keys and values (its mask is "
               f"{length} × {source_len}; only source padding is masked, and the causal toggle does not apply).")
    names = [*SELF_ATTENTION_KINDS, f"cross ({length}×{source_len})"]
    show_figure(memo_figure(f"{SLUG}_gallery", mask_gallery_figure, masks, names, labels, cross=x_mask,
                            source_labels=source_pos, target_labels=target_pos), key=f"{SLUG}_gallery")
    if n_pad == length or n_src_pad == source_len:
        st.info("Every key is padding" + (" (in the self-attention masks)" if n_pad == length else
                " (in the cross-attention source)") + ": each row is fully masked, so its weights (and output) are "
                "all zero, never NaN.")

    kind = st.selectbox("The mask and what it does to the weights", list(GALLERY), index=1,
                        format_func=lambda k: GALLERY.get(k, k), key=f"{SLUG}_kind")  # shows the description
    i = list(GALLERY).index(kind)
    if kind == "cross":  # (L_t, L_s): target queries as rows, source keys as columns
        mask, kind_weights, cols, rows = x_mask, x_weights, source_pos, target_pos
        axes = {"x_title": "source key", "y_title": "target query"}
    else:  # (L, L)
        mask, kind_weights, cols, rows, axes = masks[i], weights[i], labels, labels, {}
    a, b = st.columns(2)
    with a:
        show_figure(memo_figure(f"{SLUG}_mask", heatmap, mask, cols, rows, f"Mask: {kind.replace('_', ' ')}", zmin=0,
                                zmax=1, colorbar_title="may attend", **axes), key=f"{SLUG}_mask")
    with b:
        show_figure(memo_figure(f"{SLUG}_weights", heatmap, kind_weights, cols, rows,
                                f"Weights, {kind.replace('_', ' ')} mask", zmin=0, zmax=1, **axes), key=f"{SLUG}_weights")
    allowed = mask.sum(1)
    st.caption(f"Keys each query may attend to: {', '.join(str(int(n)) for n in allowed)}. Masked scores become "
               "−∞ before the softmax, so their weight is exactly 0 and the rest renormalise to sum to 1.")

    st.subheader("2. A real model's mask on your sentence: causal GPT vs bidirectional BERT")
    causal_vs_bidirectional(SLUG, english_model_names(), settings.seed, str(settings.device))

    st.subheader("3. Cross-attention: target queries, source keys (L_q ≠ L_k)")
    s1, s2 = st.columns(2)
    source, target = pick_input(SLUG, sentence=SOURCE, where=s1), pick_input(SLUG, sentence=TARGET, where=s2)
    if source.problem or target.problem:
        st.warning(f"{source.problem or target.problem} (source and target each need 1 to {MAX_TOKENS} words)")
        st.stop()
    source, target = source.words, target.words
    w = cross_attention(target, source, settings.seed, str(settings.device))
    src_labels, tgt_labels = token_labels(source), token_labels(target)
    a, b = st.columns(2)
    with a:
        show_figure(memo_figure(f"{SLUG}_cross", heatmap, w["cross"], src_labels, tgt_labels,
                                f"Cross-attention ({len(target)} × {len(source)})", x_title="source key",
                                y_title="target query", zmin=0, zmax=1), key=f"{SLUG}_cross")
    with b:
        show_figure(memo_figure(f"{SLUG}_target_self", heatmap, w["self"], tgt_labels, tgt_labels,
                                "Target causal self-attention", x_title="target key", y_title="target query", zmin=0,
                                zmax=1), key=f"{SLUG}_target_self")
    st.caption("Tokens: lower-cased whitespace words; embeddings seeded random per word (untrained, so the map "
               "shows the mechanics, not a learned alignment). Cross-attention needs no causal mask: the whole "
               "source is known before decoding starts; only source padding would be masked.")
