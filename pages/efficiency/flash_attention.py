"""FlashAttention step by step: walk the tile loop of the online softmax, count the bytes each path moves, then read
and run the fused Triton kernel that does the same loop on chip."""

import streamlit as st

from core.attention import naive_attention
from core.masks import causal_mask
from core.measure.memory import naive_attention_traffic, tiled_attention_traffic
from core.tiled import trace_tiled_attention
from figures.flash import (
    io_bars_figure,
    io_vs_n_figure,
    partial_output_figure,
    running_stats_figure,
    tile_grid_figure,
    tile_scores_figure,
)
from ui.charts import show_figure
from ui.figure_memo import memo_figure
from ui.flash_kernel import render_kernel_section, seeded_head
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "flash_attention"
STEP, PLAYING = f"{SLUG}_step", f"_{SLUG}_playing"  # the step travels in links, "playing" does not
PLAY_EVERY_S = 1.0
IO_LENGTHS = [512, 1024, 2048, 4096, 8192]  # the IO count walks the real tile loop: at most (8192 / 64)² tiles
BLOCKS_IO = [64, 128, 256]
state = st.session_state


def keep_in_range(key: str, hi: int, default: int) -> None:
    """Give a 1..hi slider its value through the session state (default first, clamped when hi shrinks)."""
    value = state.get(key, default)
    state[key] = value if 1 <= value <= hi else min(default, hi)


def move(delta: int, total: int) -> None:
    state[STEP] = min(max(1, state.get(STEP, 1) + delta), total)
    state[PLAYING] = False


def toggle_play(total: int) -> None:
    state[PLAYING] = not state.get(PLAYING, False)
    if state[PLAYING] and state.get(STEP, 1) >= total:
        state[STEP] = 1


@st.cache_data(max_entries=256)
def traffic(n: int, block_q: int, block_k: int, causal: bool) -> dict:
    """Slow-memory traffic of one head (d = 64, float32): naive, and tiled counted over core.tiled's loop."""
    return {"naive": naive_attention_traffic(1, 1, n, n, 64),
            "tiled": tiled_attention_traffic(1, 1, n, n, 64, block_q=block_q, block_k=block_k, causal=causal)}


@st.cache_data(max_entries=256, show_spinner=False)
def walk(n: int, d: int, block_q: int, block_k: int, causal: bool, seed: int):
    """(trace of core.tiled's loop, max |tiled − naive|, colour bound) for seeded N(0, 1) inputs of one head.

    The play timer reruns the stepper every second and only the step changes, so the walk is computed once."""
    q, k, v = seeded_head(n, d, seed)  # (n, d) each
    trace = trace_tiled_attention(q, k, v, causal=causal, block_q=block_q, block_k=block_k)
    exact = naive_attention(q, k, v, causal_mask(n) if causal else None)  # (n, d)
    max_diff = float((trace.output - exact).abs().max())
    bound = float((q @ k.T).abs().max()) * trace.scale or 1.0
    return trace, max_diff, bound


def stepper(trace, q_labels, k_labels, bound: float, max_diff: float, timed: bool) -> None:
    """The stepper fragment; ``timed``: whether it was registered with a timer (it reruns alone on clicks, so the
    timer is switched on or off by rerunning the whole page when play was toggled)."""
    total = len(trace.steps)
    if timed != state.get(PLAYING, False):
        st.rerun()
    if state.get(PLAYING):  # playing: each timed rerun of this fragment advances one tile
        state[STEP] = min(state.get(STEP, 1) + 1, total)
        if state[STEP] >= total:
            state[PLAYING] = False  # the next tick sees timed != playing and stops the timer
    keep_in_range(STEP, total, 1)
    c1, c2, c3, c4 = st.columns(4)
    c1.button("⏮ Start", key=f"{SLUG}_reset", on_click=move, args=(-total, total), width="stretch")
    c2.button("◀ Prev", key=f"{SLUG}_prev", on_click=move, args=(-1, total), width="stretch")
    c3.button("Next ▶", key=f"{SLUG}_next", on_click=move, args=(1, total), width="stretch")
    c4.button("⏸ Pause" if state.get(PLAYING) else "▶ Play", key=f"{SLUG}_play", on_click=toggle_play,
              args=(total,), width="stretch")
    if total > 1:
        st.slider("Step", 1, total, key=STEP)
    step = trace.steps[state.get(STEP, 1) - 1]
    # built every run: comparing the whole trace's tensors would cost as much as drawing the grid
    show_figure(tile_grid_figure(trace, state.get(STEP, 1) - 1, q_labels, k_labels, bound=bound), key=f"{SLUG}_grid")
    if step.skipped:
        st.info(f"Tile skipped: every key k{step.k_range[0]}–{step.k_range[1] - 1} lies in the future of every query "
                f"q{step.q_range[0]}–{step.q_range[1] - 1}, so the causal mask hides the whole tile. Nothing is "
                "loaded or computed; m, l and the accumulator stay as they are.")
    else:
        left, right = st.columns(2)
        with left:
            show_figure(memo_figure(f"{SLUG}_tile", tile_scores_figure, step, bound=bound), key=f"{SLUG}_tile")
        with right:
            show_figure(memo_figure(f"{SLUG}_partial", partial_output_figure, step), key=f"{SLUG}_partial")
        show_figure(memo_figure(f"{SLUG}_stats", running_stats_figure, step), key=f"{SLUG}_stats")
    if state.get(STEP, 1) == total:
        st.success(f"Done: every tile folded in. Output = acc / l equals naive attention: max |tiled − naive| = "
                   f"**{max_diff:.2e}**.")
    else:
        st.caption(f"After the last step the output will equal naive attention (max |tiled − naive| = {max_diff:.1e}).")


def traffic_vs_n_figure(bq_io: int, bk_io: int, causal: bool):
    """Slow-memory bytes of naive and tiled attention at every n of IO_LENGTHS (core.tiled's count), as a figure."""
    totals = {method: [traffic(m, bq_io, bk_io, causal)[method].total_bytes for m in IO_LENGTHS]
              for method in ("naive", "tiled")}
    return io_vs_n_figure(IO_LENGTHS, totals, title=f"Slow-memory traffic vs n<br><sup>B_r = {bq_io}, B_c = {bk_io}</sup>")


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    c1, c2, c3 = st.columns(3)
    n = c1.slider("Sequence length n", 2, 32, 12, key=f"{SLUG}_n")
    for key in (f"{SLUG}_block_q", f"{SLUG}_block_k"):
        keep_in_range(key, n, 4)
    block_q = c2.slider("Query block B_r", 1, n, key=f"{SLUG}_block_q")
    block_k = c3.slider("Key block B_c", 1, n, key=f"{SLUG}_block_k")
    c4, c5 = st.columns(2)
    d = c4.select_slider("Head width d", [2, 4, 8, 16], 4, key=f"{SLUG}_d")
    causal = c5.toggle("Causal (skip future tiles)", False, key=f"{SLUG}_causal")

    trace, max_diff, bound = walk(n, d, block_q, block_k, causal, settings.seed)
    skipped = sum(s.skipped for s in trace.steps)
    st.caption(f"One head, seeded N(0, 1) inputs (seed {settings.seed}). {len(trace.steps)} tiles of "
               f"{block_q}×{block_k}" + (f", {skipped} skipped by the causal mask." if causal else ".") +
               " Red outline: current tile · coloured: computed · grey: skipped · blank: not reached yet.")
    playing = state.get(PLAYING, False)
    st.fragment(run_every=PLAY_EVERY_S if playing else None)(stepper)(
        trace, [f"q{i}" for i in range(n)], [f"k{j}" for j in range(n)], bound, max_diff, playing)

    st.subheader("Bytes moved to and from slow memory (HBM)")
    st.markdown("Naive attention writes the n×n scores S, reads them back for the softmax, writes P and reads it "
                "again for P·V. The tiled loop reads each Q block once, each K/V tile once per query block it does "
                "not skip, and writes O once; S and P never leave fast memory. Counted from `core.tiled`'s loop.")
    c6, c7 = st.columns(2)
    bq_io = c6.select_slider("B_r (IO)", BLOCKS_IO, 128, key=f"{SLUG}_io_bq")
    bk_io = c7.select_slider("B_c (IO)", BLOCKS_IO, 128, key=f"{SLUG}_io_bk")
    n_io = st.select_slider("n for the IO count", IO_LENGTHS, 4096, key=f"{SLUG}_io_n")
    io = traffic(n_io, bq_io, bk_io, causal)
    ratio = io["naive"].total_bytes / io["tiled"].total_bytes
    show_figure(memo_figure(f"{SLUG}_io", io_bars_figure, io, title=f"Naive moves {ratio:.1f}× the bytes of tiled<br>"
                            f"<sup>one head, n = {n_io:,}, d = 64, float32{', causal' if causal else ''}</sup>"),
                key=f"{SLUG}_io")
    show_figure(memo_figure(f"{SLUG}_io_n_fig", traffic_vs_n_figure, bq_io, bk_io, causal), key=f"{SLUG}_io_n_fig")
    st.caption("Both grow like n², but the tiled path's n² term is K and V re-read once per query block: "
               "2·n²·d/B_r elements instead of the naive path's 4·n² score reads and writes. Larger blocks (more SRAM) mean "
               "fewer passes; causal masking skips about half of the tiles.")

render_kernel_section(n, d, causal, settings.seed, settings.device)  # full width: two sources side by side
