"""Watch dot products spread and softmax saturate as d_k grows, with and without the 1/√d_k scale."""

import numpy as np
import streamlit as st
import torch

from core.lab.softmax_stats import ScalingSweep, d_k_grid, predicted_sweep_peak_bytes, scaling_sweep, softmax_jacobian
from core.measure.memory_guard import check_memory
from figures.heatmap import DIVERGING_SCALE, heatmap
from figures.scaling import example_weights_figure, gradient_figure, saturation_figure, spread_figure
from ui.charts import show_figure
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "why_sqrt_dk"
MAX_D_K_CHOICES = [16, 32, 64, 128, 256, 512, 1024, 2048]


@st.cache_data(max_entries=32, show_spinner="Sampling dot products…")
def sweep(n_keys: int, max_d_k: int, n_samples: int, seed: int, device: str) -> ScalingSweep:
    """The measured sweep over d_k = 1, 2, 4, … max_d_k (cached on its inputs)."""
    return scaling_sweep(d_k_grid(max_d_k), n_keys, n_samples, seed, device)


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    c1, c2, c3 = st.columns(3)
    n_keys = c1.slider("Number of keys", 2, 64, 16, key=f"{SLUG}_n_keys")
    max_d_k = c2.select_slider("Largest d_k", MAX_D_K_CHOICES, value=1024, key=f"{SLUG}_max_d_k")
    n_samples = c3.slider("Samples per d_k", 50, 1000, 100, step=50, key=f"{SLUG}_samples",
                          help="Independent (query, keys) draws, seeded from the global seed.")
    guard = check_memory(f"Sampling {n_samples:,} queries against {n_keys} keys at d_k up to {max_d_k:,}",
                         predicted_sweep_peak_bytes(d_k_grid(max_d_k), n_keys, n_samples),
                         budget_bytes=settings.memory_budget_bytes, device=settings.device,
                         advice="Choose fewer samples, fewer keys or a smaller largest d_k, or raise the memory budget "
                                "in the sidebar.")
    if not guard.allowed:
        st.warning(guard.message)
        st.stop()
    s = sweep(n_keys, max_d_k, n_samples, settings.seed, str(settings.device))
    st.caption(f"q and every k drawn i.i.d. N(0, 1) in d_k dimensions (seed {settings.seed}, device "
               f"{settings.device}); the same draws are scored twice: softmax(q·k) and softmax(q·k/√d_k), "
               "both by core.attention.attention.")

    st.subheader("1. Dot products spread like √d_k")
    show_figure(spread_figure(s), key=f"{SLUG}_spread")
    last = len(s.d_ks) - 1
    st.markdown(f"At d_k = {s.d_ks[last]}: measured std(q·k) = **{s.dot_std[last]:.2f}** vs √d_k = "
                f"**{s.theory_std[last]:.2f}**; after ÷√d_k: **{s.scaled_std[last]:.3f}** (theory 1).")

    st.subheader("2. Wide scores saturate the softmax")
    show_figure(saturation_figure(s), key=f"{SLUG}_saturation")

    st.subheader("3. …and a saturated softmax passes almost no gradient")
    show_figure(gradient_figure(s), key=f"{SLUG}_gradient")
    st.markdown("∂p/∂s = diag(p) − ppᵀ (drawn for one query in part 4). When p is one-hot, diag(p) = ppᵀ and the "
                "Jacobian is zero: the scores (and so W_Q, W_K) stop learning. Scaling keeps p soft at every d_k.")

    st.subheader("4. One query up close")
    if st.session_state.get(f"{SLUG}_example_d_k", s.d_ks[last]) not in s.d_ks:
        st.session_state.pop(f"{SLUG}_example_d_k")  # the grid got shorter than the chosen width
    pick = st.select_slider("d_k of the example", list(s.d_ks), value=s.d_ks[last], key=f"{SLUG}_example_d_k")
    index = s.d_ks.index(pick)
    show_figure(example_weights_figure(s, index), key=f"{SLUG}_example")
    keys = [f"k{j}" for j in range(n_keys)]
    jac = {tag: softmax_jacobian(torch.tensor(getattr(s, f"example_{tag}")[index], dtype=torch.float64)).numpy()
           for tag in ("unscaled", "scaled")}
    bound = max(float(np.abs(j).max()) for j in jac.values()) or 1.0
    a, b = st.columns(2)
    for col, tag in ((a, "unscaled"), (b, "scaled")):
        with col:
            norm = float(np.linalg.norm(jac[tag]))
            show_figure(heatmap(jac[tag], keys, keys, f"∂p/∂s, {tag} (‖·‖_F = {norm:.3f})",
                                colorbar_title="∂p_i/∂s_j", x_title="score s_j", y_title="weight p_i",
                                zmin=-bound, zmax=bound, colorscale=DIVERGING_SCALE, height=360),
                        key=f"{SLUG}_jacobian_{tag}")
