"""Why attention is O(n²): predicted and measured peak memory and time of naive, tiled and torch SDPA attention."""

import pandas as pd
import streamlit as st

from core.measure.device import device_label
from core.measure.memory import (
    MIB,
    naive_memory_terms,
    predicted_naive_peak_bytes,
    predicted_tiled_peak_bytes,
    tiled_memory_terms,
)
from core.measure.memory_guard import check_attention_memory, effective_budget_bytes
from figures.memory import NAMES, memory_terms_figure, peak_memory_figure, time_figure
from ui.charts import show_figure
from ui.measure import DTYPES, Point, dtypes_for, measured, run_measurements
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "quadratic_memory"
METHODS = ("naive", "tiled", "sdpa")
LENGTHS = [2**p for p in range(7, 17)]  # 128 … 65,536
DEVICE_CAP = {"cpu": 8192, "cuda": 32768}  # one click stays under about a minute (our tiled loop is Python)


def guard(method: str, n: int):
    return check_attention_memory(1, heads, n, n, d, dtype, method=method, budget_bytes=budget, device=device)


settings = get_settings()
device, budget = settings.device, settings.memory_budget_bytes
lab = page_shell(SLUG)
with lab:
    c1, c2, c3 = st.columns(3)
    heads = c1.select_slider("Heads H", [1, 2, 4, 8, 16], 4, key=f"{SLUG}_heads")
    d = c2.select_slider("Head width d", [16, 32, 64, 128], 64, key=f"{SLUG}_d")
    dtype_name = c3.selectbox("dtype", dtypes_for(device), key=f"{SLUG}_dtype")
    dtype = DTYPES[dtype_name]
    # n goes as far as the guard lets the tiled path go (its peak grows like n) on this device
    options = [n for n in LENGTHS if n <= DEVICE_CAP[device.type] and guard("tiled", n).allowed]
    if not options:
        st.warning(guard("tiled", LENGTHS[0]).message + " Raise the memory budget in the sidebar.")
        st.stop()
    if st.session_state.get(f"{SLUG}_n") not in options:
        st.session_state[f"{SLUG}_n"] = min(1024, options[-1])
    n_max = st.select_slider("Largest sequence length n (every power of two up to it is measured)", options,
                             key=f"{SLUG}_n")
    ns = [n for n in options if n <= n_max]
    refused = [n for n in ns if not guard("naive", n).allowed]
    eff = effective_budget_bytes(budget, device)
    st.caption(f"Device: **{device_label(device)}** · batch 1, {heads} heads of width {d}, {dtype_name}, no mask · "
               f"memory budget {eff / MIB:,.0f} MiB (sidebar setting, at most half of the free memory).")
    if refused:
        st.warning(f"**Memory guard:** {guard('naive', refused[0]).message} Naive points at n ≥ {refused[0]:,} are "
                   "skipped; tiled and SDPA are still measured.")

    predicted = {"naive": [predicted_naive_peak_bytes(1, heads, n, n, d, dtype) for n in ns],
                 "tiled": [predicted_tiled_peak_bytes(1, heads, n, n, d, dtype) for n in ns]}
    if st.button("📏 Measure", key=f"{SLUG}_measure", type="primary",
                 help="Runs each method at each n on your device; every point is measured once and cached."):
        points = [Point(str(device), n, d, heads, dtype_name, m) for n in ns for m in METHODS
                  if m != "naive" or n not in refused]
        for error in run_measurements(SLUG, points, label=lambda p: f"{NAMES[p.method]} at n = {p.n:,}"):
            st.warning(f"Could not measure {error}")
    results = measured(SLUG, device=str(device), d=d, heads=heads, dtype=dtype_name)
    results = {m: {n: r for n, r in by_n.items() if n <= n_max} for m, by_n in results.items()}
    results = {m: results[m] for m in METHODS if results.get(m)}

    show_figure(peak_memory_figure(ns, predicted, {m: {n: r.peak_bytes for n, r in v.items()} for m, v in results.items()},
                                   budget_bytes=eff, title=f"Peak memory of one call vs n<br><sup>{heads} heads, d = {d}, "
                                                           f"{dtype_name}, batch 1</sup>"), key=f"{SLUG}_memory")
    if results:
        show_figure(time_figure({m: {n: r.seconds for n, r in v.items()} for m, v in results.items()},
                                title=f"Time per call vs n<br><sup>{device_label(device)}, median of up to 5 runs</sup>"),
                    key=f"{SLUG}_time")
        rows = [{"n": n, "method": NAMES[m], "time (ms)": r.seconds * 1e3, "measured peak (MiB)": r.peak_bytes / MIB,
                 "predicted peak (MiB)": predicted[m][ns.index(n)] / MIB if m in predicted else None}
                for m, by_n in results.items() for n, r in by_n.items()]
        st.dataframe(pd.DataFrame(rows).sort_values(["n", "method"]), hide_index=True, width="stretch")
    else:
        st.info("The dashed lines are predictions from the shapes alone (core.measure.memory). Press **Measure** to run "
                "the three paths on your device and add the measured points (each point is measured once).")

    st.subheader(f"What fills the peak at n = {n_max:,}")
    terms = {"naive": naive_memory_terms(1, heads, n_max, n_max, d, dtype),
             "tiled": tiled_memory_terms(1, heads, n_max, n_max, d, dtype)}
    show_figure(memory_terms_figure(terms, title=f"Predicted peak by tensor at n = {n_max:,}"), key=f"{SLUG}_terms")
    st.markdown("Naive attention keeps score-sized `(B, H, n, n)` matrices alive at once, so doubling n quadruples "
                "its peak. The tiled path keeps one `block_q × block_k` score tile per head plus the output: its "
                "peak grows like n. Both compute every one of the n² scores, so both take O(n²·d) time.")
