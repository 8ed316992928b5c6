"""Efficient attention variants: each one's pattern, its error against full attention, and its cost as n grows."""

import pandas as pd
import streamlit as st

from core.efficient import INFO, VARIANTS, VariantParams, relative_error, variant_attention, variant_inputs
from core.measure.memory_guard import check_attention_memory
from figures.efficient import cost_figure, error_figure, pattern_figure, peak_figure
from ui.charts import show_figure
from ui.measure import Point, measured, run_measurements
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "efficient_variants"
SHOWN = [v for v in VARIANTS if v != "full"]
LABELS = {v: f"{INFO[v].label} — {INFO[v].paper}" for v in SHOWN}  # variant -> what the picker shows
PROJECTIONS = {"segment means": "pool", "random N(0, 1/k), seeded": "random"}
SWEEP = {"cpu": [256, 512, 1024, 2048], "cuda": [512, 1024, 2048, 4096, 8192, 16384]}
SWEEP_HEADS, SWEEP_D = 4, 64
state = st.session_state


def knob(label: str, name: str, hi: int, default: int, column) -> int:
    """A 1..hi slider whose value survives n shrinking below it (then it falls back to its default)."""
    value = state.get(f"{SLUG}_{name}", default)
    state[f"{SLUG}_{name}"] = value if 1 <= value <= hi else min(default, hi)
    return column.slider(label, 1, hi, key=f"{SLUG}_{name}")


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    c1, c2, c3 = st.columns(3)
    n = c1.slider("Sequence length n", 8, 128, 32, key=f"{SLUG}_n")
    d = c2.select_slider("Head width d", [8, 16, 32], 16, key=f"{SLUG}_d")
    kind = c3.radio("Inputs", ["local", "random"], horizontal=True, key=f"{SLUG}_inputs",
                    help="local: q = k = the position on a half circle (+ noise), so nearby tokens score high. "
                         "random: i.i.d. N(0, 1), where attention is spread out and every shortcut loses more.")
    variant = st.selectbox("Variant", list(LABELS), format_func=lambda v: LABELS.get(v, v), key=f"{SLUG}_variant")
    c4, c5, c6 = st.columns(3)
    window = knob("Window w (sliding, Longformer)", "window", n, 4, c4)
    stride = knob("Stride / block s (strided, fixed)", "stride", n, 4, c5)
    n_global = knob("Global tokens g (Longformer)", "n_global", n, 2, c6)
    c7, c8, c9 = st.columns(3)
    proj_k = knob("Projected length k (Linformer)", "proj_k", n, 8, c7)
    n_buckets = c8.select_slider("Buckets (LSH)", [1, 2, 4, 8, 16], 4, key=f"{SLUG}_buckets")
    n_rounds = c9.slider("Hash rounds (LSH)", 1, 4, 1, key=f"{SLUG}_rounds")
    projection = PROJECTIONS[st.radio("Linformer E = F", list(PROJECTIONS), horizontal=True, key=f"{SLUG}_projection",
                                      help="Linformer learns E and F. Untrained, segment means keep the keys' scale; a random "
                                           "projection mixes every key into each row, so the softmax lands on "
                                           "noise.")]
    causal = st.toggle("Causal (decoder) patterns", False, key=f"{SLUG}_causal")

    params = VariantParams(window=window, stride=stride, n_global=n_global, proj_k=proj_k, projection=projection,
                           n_buckets=n_buckets, n_rounds=n_rounds, causal=causal, seed=settings.seed)
    q, k, v = variant_inputs(n, d, kind, settings.generator())  # (n, d) one head
    full = variant_attention("full", q, k, v, params)
    results = {name: None if name == "linformer" and causal else variant_attention(name, q, k, v, params)
               for name in SHOWN}
    errors = {name: None if r is None else relative_error(r.output, full.output) for name, r in results.items()}

    labels = [str(i) for i in range(n)]
    chosen = results[variant]
    mine, reference = st.tabs([INFO[variant].label, "Full attention" + (" (causal)" if causal else "")])
    with mine:
        if chosen is None:
            st.warning("Linformer has no causal form: each projected key mixes every position, future ones "
                       "included. Turn **Causal** off to see it.")
        else:
            kind_of_map = "weights (gaps = pairs never scored)" if chosen.mask is not None else "effective weights W"
            show_figure(pattern_figure(chosen.weights, chosen.mask, labels, f"{INFO[variant].label}<br><sup>"
                                       f"{kind_of_map}, output = W·V</sup>", height=460), key=f"{SLUG}_variant_map")
            share = chosen.n_scores / full.n_scores
            st.markdown(f"**Relative error of the output:** {errors[variant]:.2e} · **scores per head:** "
                        f"{chosen.n_scores:,} of {full.n_scores:,} ({share:.0%}) · **cost per head:** "
                        f"{INFO[variant].cost}")
            st.caption(INFO[variant].note + ". Error = ‖O_variant − O_full‖_F / ‖O_full‖_F on the same q, k, v.")
    with reference:
        show_figure(pattern_figure(full.weights, None, labels, "Full attention<br><sup>softmax(q·k/√d), every "
                                   "pair</sup>", height=460), key=f"{SLUG}_full")

    st.subheader("Exact or approximate? All variants on these inputs")
    table = pd.DataFrame([{
        "variant": INFO[name].label, "relative error": errors[name], "scores here": None if r is None else r.n_scores,
        "exact or approximate": ("exact softmax attention, different (sparse) mask → ≈ full attention"
                                 if INFO[name].kind == "different mask" else "approximates softmax attention itself"),
        "cost per head": INFO[name].cost, "paper": INFO[name].paper,
    } for name, r in results.items()])
    st.dataframe(table, hide_index=True, width="stretch")
    show_figure(error_figure(errors, title=f"Output error vs full attention<br><sup>n = {n}, {kind} inputs</sup>"),
                key=f"{SLUG}_errors")
    st.caption("A masked variant computes softmax attention exactly — over its own set of pairs; its error is the "
               "weight full attention put on the pairs it drops. Linear attention, Linformer and LSH change how "
               "the weights are formed, so even a generous setting only approximates softmax attention.")

    st.subheader("Cost as n grows")
    device = settings.device
    lengths = SWEEP[device.type]
    st.caption(f"Fast path of each variant (no n×n tensor) on {device}: {SWEEP_HEADS} heads of width {SWEEP_D}, "
               "float32, not causal; w = s = k = 64, 16 global tokens, LSH buckets of about 64 tokens.")
    if st.button("📏 Measure", key=f"{SLUG}_measure", type="primary"):
        allowed = {m: check_attention_memory(1, SWEEP_HEADS, m, m, SWEEP_D, method="naive", device=device,
                                             budget_bytes=settings.memory_budget_bytes) for m in lengths}
        for m, decision in allowed.items():
            if not decision.allowed:
                st.warning(f"Full attention skipped at n = {m:,}: {decision.message}")
        points = [Point(str(device), m, SWEEP_D, SWEEP_HEADS, "float32", f"variant:{name}") for m in lengths
                  for name in VARIANTS if name != "full" or allowed[m].allowed]
        for error in run_measurements(SLUG, points, label=lambda p: f"{p.method[8:]} at n = {p.n:,}"):
            st.warning(f"Could not measure {error}")
    done = measured(SLUG, device=str(device), d=SWEEP_D, heads=SWEEP_HEADS, dtype="float32")
    times = {name: {m: r.seconds for m, r in done[f"variant:{name}"].items()} for name in VARIANTS
             if f"variant:{name}" in done}
    if times:
        show_figure(cost_figure(times, title=f"Time per call vs n<br><sup>each variant's fast path, {device}, median of "
                                             "up to 5 runs</sup>"), key=f"{SLUG}_cost")
        peaks = {name: {m: r.peak_bytes for m, r in done[f"variant:{name}"].items()} for name in times}
        show_figure(peak_figure(peaks, title=f"Peak memory of one call vs n<br><sup>measured on {device}</sup>"),
                    key=f"{SLUG}_peak")
    else:
        st.info("Press **Measure** to time every variant at n = " + ", ".join(f"{m:,}" for m in lengths) +
                " on your device (each point is measured once and cached).")
