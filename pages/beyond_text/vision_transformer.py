"""Vision Transformer: cut an image into patches, embed them with [CLS] and positions, and see where attention looks."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.lab.image_input import MAX_BYTES, MAX_SIDE, UPLOAD_TYPES, ImageInputError, load_image
from core.vit import (
    CLS_LABEL,
    GENERATED_IMAGES,
    IMAGE_SIZE,
    ViTConfig,
    generated_image,
    image_to_tensor,
    patch_grid,
    pixel_similarity_attention,
    seeded_vit,
    square_resize,
    token_labels,
    valid_patch_sizes,
    weights_to_grid,
)
from figures.block import shape_text
from figures.heatmap import heatmap
from figures.vit import attention_overlay, image_with_grid, patch_strip
from ui.charts import show_figure
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "vision_transformer"
UPLOAD = "upload your own…"
PIXELS, RANDOM_VIT = "raw pixels (no learned weights)", "random ViT (untrained, seeded)"
MAX_FULL_MAP = 65  # draw the full token × token map up to this many tokens


@st.cache_data(max_entries=4, show_spinner=False)
def uploaded_image(data: bytes) -> np.ndarray:
    return square_resize(load_image(data), IMAGE_SIZE)  # raises ImageInputError with a message for the learner


@st.cache_data(max_entries=16, show_spinner="Running the ViT…")
def vit_run(image: np.ndarray, patch: int, seed: int, device: str):
    """Attention of a seeded random TinyViT ``(L, H, N+1, N+1)``, raw-pixel attention ``(N, N)``, stage shapes."""
    pixels = image_to_tensor(image)[None].to(device)  # (1, 3, H, W)
    with torch.no_grad():
        trace = seeded_vit(ViTConfig(image_size=IMAGE_SIZE, patch_size=patch), seed).to(device)(pixels)
        raw = pixel_similarity_attention(trace.patches[0]).cpu()  # (N, N)
    stages = pd.DataFrame(trace.stages(pixels), columns=["stage", "shape", "what happens"])
    stages["shape"] = stages["shape"].map(shape_text)
    return trace.attention_weights()[:, 0].cpu().numpy(), raw.numpy(), stages


def choose_image() -> tuple[np.ndarray, str]:
    choice = st.selectbox("Image", (*GENERATED_IMAGES, UPLOAD), key=f"{SLUG}_image")
    if choice != UPLOAD:
        return generated_image(choice, IMAGE_SIZE), f"generated '{choice}'"
    upload = st.file_uploader(f"PNG or JPEG, at most {MAX_BYTES // 2**20} MB and {MAX_SIDE} pixels a side",
                              type=list(UPLOAD_TYPES), max_upload_size=MAX_BYTES // 2**20, key=f"{SLUG}_upload")
    if upload is None:
        st.info("No image uploaded yet: showing the generated 'shapes' image.")
        return generated_image("shapes", IMAGE_SIZE), "generated 'shapes'"
    try:
        return uploaded_image(upload.getvalue()), "your upload (centre-cropped, resized)"
    except ImageInputError as err:
        st.error(f"{err} Showing the generated 'shapes' image instead.")
        return generated_image("shapes", IMAGE_SIZE), "generated 'shapes'"


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    c1, c2 = st.columns([2, 3])
    with c1:
        image, image_name = choose_image()
    sizes = valid_patch_sizes(IMAGE_SIZE)
    patch = c2.select_slider("Patch size p (pixels)", sizes, 16, key=f"{SLUG}_patch")
    rows, cols = patch_grid(IMAGE_SIZE, IMAGE_SIZE, patch)
    n = rows * cols
    show_figure(image_with_grid(image, patch, f"{rows}×{cols} patches of {patch}×{patch} pixels"), key=f"{SLUG}_grid")
    st.caption(f"{image_name}, {IMAGE_SIZE}×{IMAGE_SIZE} RGB. Hover a patch to see its index in the sequence.")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("patches", n, help="N = (H/p)·(W/p)")
    m2.metric("tokens", n + 1, help="N patches + [CLS]")
    m3.metric("values/patch", 3 * patch * patch, help="3·p²: the flattened patch")
    m4.metric("scores/head", f"{(n + 1) ** 2:,}", help="(N+1)² attention scores per head and layer")
    show_figure(patch_strip(image, patch), key=f"{SLUG}_strip")

    weights, raw, stages = vit_run(image, patch, settings.seed, str(settings.device))
    st.subheader("Patch embedding, [CLS] and positions")
    st.dataframe(stages, hide_index=True, width="stretch")

    st.subheader("Where does a token look?")
    labels = token_labels(n)
    q1, q2 = st.columns(2)
    source = q1.radio("Attention from", (PIXELS, RANDOM_VIT), key=f"{SLUG}_source")
    query = q2.select_slider("Query token", labels, "p0", key=f"{SLUG}_query")
    if source == PIXELS:
        st.caption("softmax(X Xᵀ/√(3p²)) with X = the centred pixel patches: no learned weight at all. A patch "
                   "attends to the patches that look like it.")
        if query == CLS_LABEL:
            st.warning("[CLS] has no pixels, so raw-pixel attention has no [CLS] row: pick a patch as the query.")
            st.stop()
        row, names = raw[labels.index(query) - 1], labels[1:]
        full, where = raw, "raw pixels"
        grid = weights_to_grid(torch.from_numpy(row), (rows, cols), has_cls=False)
    else:
        n_layers, n_heads = weights.shape[:2]
        h1, h2 = st.columns(2)
        layer = h1.selectbox("Layer", range(1, n_layers + 1), key=f"{SLUG}_layer")
        head = h2.selectbox("Head", ["mean of heads", *range(n_heads)], key=f"{SLUG}_head")
        per_head = weights[layer - 1]  # (H, N+1, N+1)
        matrix = per_head.mean(axis=0) if head == "mean of heads" else per_head[head]
        row, names, full = matrix[labels.index(query)], labels, matrix
        grid = weights_to_grid(torch.from_numpy(row), (rows, cols))
        where = f"random ViT, layer {layer}, {head if head == 'mean of heads' else f'head {head}'}"
        st.warning(f"This ViT is untrained (random weights, seed {settings.seed}, on {settings.device}): its attention is nearly uniform "
                   f"(1/{n + 1} = {1 / (n + 1):.3f}) and what varies mostly reflects pixel similarity, not meaning. "
                   f"Weight on [CLS]: {row[0]:.3f}.")
    query_patch = None if query == CLS_LABEL else labels.index(query) - 1
    show_figure(attention_overlay(image, grid, patch, f"Where {query} looks", query_patch=query_patch),
                key=f"{SLUG}_overlay")
    st.caption(f"Weights of {query} over the patches ({where}) on the image, the query outlined. Colours span this "
               f"map's range, {grid.min():.4f} to {grid.max():.4f}.")
    show_full = st.toggle("Also show every token's attention (the full map)", False, key=f"{SLUG}_full_map")
    if show_full and len(names) <= MAX_FULL_MAP:
        show_figure(heatmap(full, names, names, "Every token's attention weights"), key=f"{SLUG}_full")
    elif show_full:
        st.caption(f"The full {len(names)}×{len(names)} map is not drawn at this patch size (choose p ≥ 12 to see it).")
