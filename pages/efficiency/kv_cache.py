"""KV cache, MQA and GQA: the cache formula checked against real cache tensors, real model shapes, and decode time."""

import streamlit as st
import torch

from core.measure.kv_cache_math import (
    DTYPE_BYTES,
    PRESETS,
    cached_positions,
    kv_cache_bytes,
    predicted_cache_check_peak_bytes,
    real_cache_bytes,
    sharing_comparison,
)
from core.measure.memory_guard import check_memory
from figures.kv_cache import cache_growth_figure, decode_time_figure, human_bytes, sharing_figure
from ui.charts import show_figure
from ui.measure import measure_decoding
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "kv_cache"
CUSTOM = "Custom"
FIELDS = ("layers", "heads", "kv_heads", "head_dim", "context")
state = st.session_state


@st.cache_data(max_entries=64, show_spinner="Running the model with a KV cache…")
def cache_check(layers: int, heads: int, kv_heads: int, head_dim: int, context: int, batch: int, dtype: str):
    return real_cache_bytes(layers, heads, kv_heads, head_dim, context, batch, getattr(torch, dtype))


def load_preset() -> None:
    """Copy the chosen preset's shape into the calculator's inputs (on change of the preset box)."""
    shape = PRESETS.get(state[f"{SLUG}_preset"])
    if shape is not None:
        for field in FIELDS:
            state[f"{SLUG}_calc_{field}"] = getattr(shape, field)


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    st.subheader("1. The formula, checked against real cache tensors")
    c1, c2, c3 = st.columns(3)
    context = c1.slider("Context T (tokens)", 1, 128, 48, key=f"{SLUG}_context")
    layers = c2.slider("Layers L", 1, 4, 2, key=f"{SLUG}_layers")
    head_dim = c3.select_slider("Head width d", [8, 16, 32], 16, key=f"{SLUG}_head_dim")
    c4, c5 = st.columns(2)
    kv_heads = c4.select_slider("Key/value heads H_kv", [1, 2, 4], 2, key=f"{SLUG}_kv_heads")
    group = c5.select_slider("Query heads per key/value head (group size g)", [1, 2, 4], 2, key=f"{SLUG}_group",
                             help="g = 1: multi-head attention (MHA). H_kv = 1: multi-query (MQA). Else grouped (GQA).")
    heads = kv_heads * group
    c6, c7 = st.columns(2)
    batch = c6.slider("Batch B", 1, 4, 1, key=f"{SLUG}_batch")
    dtype = c7.selectbox("dtype", ["float32", "bfloat16", "float16"], key=f"{SLUG}_dtype")
    kind = "MHA" if group == 1 else "MQA" if kv_heads == 1 else "GQA"
    guard = check_memory(f"Running the {kind} model with a KV cache ({layers} layers, {heads} heads of width {head_dim}, "
                         f"T = {context}, batch {batch}, {dtype})",
                         predicted_cache_check_peak_bytes(layers, heads, kv_heads, head_dim, context, batch,
                                                          getattr(torch, dtype)),
                         budget_bytes=settings.memory_budget_bytes, device="cpu",
                         advice="Choose a shorter context, fewer layers, fewer heads or a smaller batch, or raise the "
                                "memory budget in the sidebar.")
    if not guard.allowed:
        st.warning(guard.message)
    else:
        check = cache_check(layers, heads, kv_heads, head_dim, context, batch, dtype)
        formula, real = check.formula_bytes[-1], check.real_bytes[-1]
        verdict = "✅ equal" if formula == real else "❌ different"
        st.markdown(f"**Formula** 2·L·H_kv·d·T·B·s = {formula:,} bytes ({human_bytes(formula)}; "
                    f"{formula // layers:,} per layer) · **real tensors** Σ element_size·numel = {real:,} bytes · "
                    f"**{verdict}**")
        st.caption(f"2 · {layers} · {kv_heads} · {head_dim} · {context} · {batch} · {DTYPE_BYTES[dtype]} = "
                   f"**{formula:,}** bytes. A seeded core `DecoderOnlyModel` ({kind}: {heads} query heads, {kv_heads} "
                   f"key/value heads, d_model = {heads * head_dim}) prefilled the prompt, then decoded token by token; "
                   f"each layer's `KVCache.k` has shape {check.cache_shape} ({check.dtype}), and v the same.")
        show_figure(cache_growth_figure(check, title=f"KV cache as decoding proceeds<br><sup>{layers} layers × "
                                                     f"{kv_heads} kv heads × d {head_dim}, batch {batch}, {dtype}</sup>"),
                    key=f"{SLUG}_growth")

    st.subheader("2. Real model shapes: what GQA and MQA save")
    st.selectbox("Preset", [CUSTOM, *PRESETS], index=1, key=f"{SLUG}_preset", on_change=load_preset)
    if f"{SLUG}_calc_layers" not in state:
        load_preset()
    cols = st.columns(5)
    limits = {"layers": 512, "heads": 512, "kv_heads": 512, "head_dim": 1024, "context": 10_000_000}
    labels = {"layers": "Layers", "heads": "Query heads", "kv_heads": "KV heads", "head_dim": "Head dim",
              "context": "Context (tokens)"}
    values = {f: cols[i].number_input(labels[f], 1, limits[f], step=1, key=f"{SLUG}_calc_{f}")
              for i, f in enumerate(FIELDS)}
    c8, c9, c10 = st.columns(3)
    calc_batch = c8.number_input("Batch", 1, 4096, 1, key=f"{SLUG}_calc_batch")
    calc_dtype = c9.selectbox("Cache dtype", list(DTYPE_BYTES), index=1, key=f"{SLUG}_calc_dtype")
    preset = PRESETS.get(state[f"{SLUG}_preset"])
    window = preset.sliding_window if preset else None
    rolling = c10.toggle(f"Rolling buffer ({window:,}-token window)" if window else "Rolling buffer (no window)",
                         False, key=f"{SLUG}_calc_rolling", disabled=window is None)
    if values["heads"] % values["kv_heads"]:
        fits = [str(h) for h in range(1, values["heads"] + 1) if values["heads"] % h == 0][:12]
        st.warning(f"{values['heads']} query heads cannot be shared equally by {values['kv_heads']} key/value heads: "
                   f"choose a number of key/value heads that divides {values['heads']} ({', '.join(fits)}).")
    else:
        positions = cached_positions(values["context"], window if rolling else None)
        sizes = sharing_comparison(values["layers"], values["heads"], values["kv_heads"], values["head_dim"],
                                   positions, calc_batch, DTYPE_BYTES[calc_dtype])
        name = state[f"{SLUG}_preset"] if preset and all(values[f] == getattr(preset, f) for f in FIELDS) else "custom"
        show_figure(sharing_figure(sizes, title=f"KV cache of {name}<br><sup>{positions:,} cached tokens, batch "
                                                f"{calc_batch}, {calc_dtype}</sup>"), key=f"{SLUG}_sharing")
        mine = kv_cache_bytes(values["layers"], values["kv_heads"], values["head_dim"], positions, calc_batch,
                              DTYPE_BYTES[calc_dtype])
        group = values["heads"] // values["kv_heads"]
        st.caption(f"This shape: **{human_bytes(mine)}**; {group} query head{'s share' if group > 1 else ' uses'} "
                   "each key/value head. Query heads, and so attention FLOPs, are the same in all three bars."
                   + (f" Source: {preset.source}." if preset else ""))

    st.subheader("3. Prefill vs decode: time per token with and without the cache")
    st.markdown("**Prefill** runs the whole prompt through the model at once and fills the cache. **Decode** then "
                "feeds one token per step: with the cache it computes one new query, key and value per layer and "
                "attends over the cached keys; without it, every step reruns the whole sequence so far.")
    c11, c12 = st.columns(2)
    prompt_len = c11.select_slider("Prompt length", [32, 64, 128, 256], 128, key=f"{SLUG}_prompt")
    new_tokens = c12.select_slider("New tokens", [8, 16, 32, 64], 32, key=f"{SLUG}_new")
    run_key = f"_{SLUG}_decode_runs"
    if st.button("⏱ Measure decoding", key=f"{SLUG}_measure", type="primary"):
        state.setdefault(run_key, set()).add((str(settings.device), prompt_len, new_tokens))
    if (str(settings.device), prompt_len, new_tokens) in state.get(run_key, set()):
        with st.spinner("Generating with and without the cache…"):
            timing = measure_decoding(str(settings.device), prompt_len, new_tokens, settings.seed)
        show_figure(decode_time_figure({"with KV cache": timing.with_cache,
                                        "without cache (recompute all)": timing.without_cache}, prompt_len,
                                       title=f"Time per generated token<br><sup>{settings.device}, 4 layers, "
                                             f"d_model 128, median of {timing.runs} runs</sup>"),
                    key=f"{SLUG}_decode")
        speedup = sum(timing.without_cache[1:]) / max(sum(timing.with_cache[1:]), 1e-12)
        st.caption(f"Decode steps after the first: {speedup:.1f}× faster with the cache. Same tokens generated: "
                   f"{'✅ yes' if timing.same_tokens else '❌ no'}." + (
                       " On a GPU a model this small is bound by kernel-launch overhead, so both modes take about "
                       "the same time per token; the saving grows with model size and context."
                       if settings.device.type == "cuda" else ""))
    else:
        st.info("Press **Measure decoding** to time greedy generation on your device (a seeded 4-layer model; "
                "each setting is measured once).")
