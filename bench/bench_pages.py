"""Latency benchmark: rerun time of every registered page after a widget change (AppTest, in process).

    python -m bench.bench_pages [--settings default|max|both] [--reruns 20] [--pages slug,slug] [--uncached]

For each page in `course.registry.PAGES` (pages added later are measured without touching this file), and the
course map (`--pages home`: no widget, so a plain rerun is timed, after the core's background warm-up is done):

- **default**: open the page, then alternate one main-area widget between its default value and the neighbouring
  step (slider ±1 step, select slider / select box: the next option).
- **max**: open the page and push every page widget to its heavy extreme with the widget fuzz test's own helpers
  (`tests.pages.test_fuzz_widgets`: `_page_widgets`, `_extreme(high=True)`, `_set`), repeating until no widget
  changes (a mode switch can reveal widgets, a slider's bound can depend on another). Then alternate one widget
  between its maximum and one step below it (last and second-to-last option), so every rerun stays heavy.

The widget alternated is the first main-area slider, else select slider, select box, number input. Buttons are never
clicked, so explicit measure / train actions are excluded (as the budgets say). Two warm-up reruns precede the
timed ones; `st.cache_data` then holds both values, so the reruns measure a cache-hit rerun unless `--uncached`
clears `st.cache_data` and the session's kept figures (`ui.figure_memo`) before every timed rerun (a value never
seen before; shipped models in `st.cache_resource` stay loaded). Without it, a figure whose inputs the alternated
widget does not change is reused from the last run, as it is for a learner.

A rerun is timed as the server does it: `at.run()` (the whole script rerun: our compute, figure building and
Streamlit's own work, not the browser's drawing) plus, when Streamlit's `runner.postScriptGC` is on (its default),
the full `gc.collect(2)` that the server's ScriptRunner runs after every script run while holding the GIL (AppTest's
runner skips it; its share is shown in its own column). `STREAMLIT_RUNNER_POST_SCRIPT_GC=false` or the same option
in `.streamlit/config.toml` turns it off here as on the server. Reported per page: wall-clock median and p95 and
the median process CPU time (`time.process_time` delta, all threads: steadier than wall time when other jobs share
the cores). Like the server, which compiles each script once per process (its Runtime keeps one `ScriptCache` until
a file changes), the benchmark keeps one compiled copy of app.py and each page across runs: AppTest alone would
re-read, re-parse (Streamlit's "magic" AST pass) and recompile both on every `at.run()`, 20–45 ms that no learner
waits for. The last line per table gives the worst page's median against the budget: ≤ 100 ms at defaults, ≤ 1 s
at maximum settings.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from course.registry import HOME_MODULE, PAGES, PageEntry
from tests.apptest_utils import error_messages, open_page
from tests.pages.test_fuzz_widgets import _extreme, _page_widgets, _set
from ui.figure_memo import MEMO_KEY
from ui.process_setup import wait_for_core

BUDGET_S = {"default": 0.100, "max": 1.0}
HOME = PageEntry(slug="home", section="Start", title="Course map", icon="🗺️", order=0, lesson="", module=HOME_MODULE,
                 summary="")
ALTERNATED_KINDS = ("slider", "select_slider", "selectbox", "number_input")
MAX_PASSES = 4


@dataclass
class PageResult:
    slug: str
    first_render_s: float
    wall_median_s: float = math.nan
    wall_p95_s: float = math.nan
    cpu_median_s: float = math.nan
    gc_median_s: float = math.nan
    widget: str = "(no widget)"
    error: str = ""


@contextmanager
def server_script_cache() -> Iterator[None]:
    """Every AppTest run in this block shares one `ScriptCache`, as every run of a `streamlit run` server does."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    with (mock.patch("streamlit.testing.v1.app_test.ScriptCache", lambda: shared),
          mock.patch("streamlit.testing.v1.local_script_runner.ScriptCache", lambda: shared)):
        yield


def post_script_gc() -> bool:
    """Streamlit's `runner.postScriptGC` (default true): the server runs `gc.collect(2)` after every script run.

    Read as `streamlit run` reads it: `$STREAMLIT_RUNNER_POST_SCRIPT_GC` (the CLI maps it), else the config files."""
    env = os.environ.get("STREAMLIT_RUNNER_POST_SCRIPT_GC")
    if env is not None:
        return env.strip().lower() in ("1", "true", "yes", "on")
    from streamlit import config

    return bool(config.get_option("runner.postScriptGC"))


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the 19th of 20 values)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _snapshot(at, slug: str) -> tuple:
    return tuple((kind, key, repr(w.value)) for kind, key, w in _page_widgets(at, slug))


def push_to_max(at, slug: str) -> int:
    """Every page widget at its heavy extreme (the fuzz test's `_extreme(high=True)`); returns the passes it took."""
    for passes in range(1, MAX_PASSES + 1):
        before = _snapshot(at, slug)
        for kind, key, w in _page_widgets(at, slug):
            _set(at, kind, key, _extreme(kind, w, True))
        at.run()
        if at.exception or _snapshot(at, slug) == before:
            return passes
    return MAX_PASSES


def _as_widget_type(widget, value):
    return int(round(value)) if isinstance(widget.value, int) and not isinstance(widget.value, bool) else value


def _pair(kind: str, widget, heavy: bool):
    """Two values to alternate: (current, neighbour) at defaults; (max, max − 1 step) at maximum settings."""
    if kind in ("slider", "number_input"):
        if isinstance(widget.value, tuple) or widget.min is None or widget.max is None:
            return None
        step = widget.step or 1
        if heavy:
            top = widget.max
            pair = (top, round(top - step, 10))
        else:
            up = round(widget.value + step, 10)
            pair = (widget.value, up if up <= widget.max else round(widget.value - step, 10))
        if not widget.min <= pair[1] <= widget.max or pair[0] == pair[1]:
            return None
        return tuple(_as_widget_type(widget, v) for v in pair)
    options = list(widget.options)
    if len(options) < 2:
        return None
    if heavy:
        return options[-1], options[-2]
    current = next((o for o in options if o == widget.value or o == str(widget.value)), options[0])
    i = options.index(current)
    return current, options[i + 1] if i + 1 < len(options) else options[i - 1]


def pick_widget(at, slug: str, heavy: bool):
    """The first main-area widget (slider, then select slider, select box, number input) with two values to
    alternate, preferring keys that start with the page's slug. Returns (kind, key, label, (a, b)) or None."""
    widgets = [(k, key, w) for k, key, w in _page_widgets(at, slug) if key and not w.disabled]
    widgets.sort(key=lambda t: not str(t[1]).startswith(slug))  # stable: the page's own widgets first
    for kind in ALTERNATED_KINDS:
        for k, key, w in widgets:
            if k == kind and (pair := _pair(kind, w, heavy)) is not None:
                return kind, key, w.label, pair
    return None


def bench_page(entry, reruns: int, heavy: bool, uncached: bool) -> PageResult:
    start = time.perf_counter()
    at = open_page(entry.module)
    result = PageResult(entry.slug, time.perf_counter() - start)
    if heavy:
        push_to_max(at, entry.slug)
    if at.exception:
        result.error = "; ".join(error_messages(at))[:120]
        return result
    picked = pick_widget(at, entry.slug, heavy)
    if picked is None and entry is not HOME:
        return result
    if picked is None:
        result.widget = "(no widget: plain rerun)"
        wait_for_core()  # the map's first run started it: time the map as it reruns for good
    else:
        kind, key, label, (a, b) = picked
        result.widget = f"{kind} '{label}' {a!s} ↔ {b!s}"
    if uncached:
        import streamlit as st
    walls, cpus, gcs = [], [], []
    for i in range(reruns + 2):
        if picked is not None:
            _set(at, kind, key, b if i % 2 == 0 else a)
        if uncached:
            st.cache_data.clear()
            if MEMO_KEY in at.session_state:
                del at.session_state[MEMO_KEY]  # and the session's kept figures (ui.figure_memo)
        c0, t0 = time.process_time(), time.perf_counter()
        at.run()
        t1 = time.perf_counter()
        if post_script_gc():
            gc.collect(2)  # what the server's ScriptRunner does after every run (AppTest's runner skips it)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if at.exception:
            result.error = "; ".join(error_messages(at))[:120]
            return result
        if i >= 2:  # two warm-up reruns fill the caches for both values
            walls.append(wall)
            cpus.append(cpu)
            gcs.append(t0 + wall - t1)
    result.wall_median_s, result.wall_p95_s = statistics.median(walls), p95(walls)
    result.cpu_median_s, result.gc_median_s = statistics.median(cpus), statistics.median(gcs)
    return result


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1e3:.0f}"


def verdict(results: list[PageResult], settings: str) -> str:
    """The worst page's wall and CPU median against the budget of these settings."""
    budget = BUDGET_S[settings]
    timed = [r for r in results if not math.isnan(r.wall_median_s)]
    if not timed:
        return f"**{settings}**: no page timed."
    worst_wall = max(timed, key=lambda r: r.wall_median_s)
    worst_cpu = max(timed, key=lambda r: r.cpu_median_s)
    over = [r.slug for r in timed if r.wall_median_s > budget]
    errors = [r.slug for r in results if r.error]

    def met(seconds: float) -> str:
        return "met" if seconds <= budget else "MISSED"

    line = (f"**{settings}** budget worst median ≤ {budget * 1e3:.0f} ms: wall {_ms(worst_wall.wall_median_s)} ms "
            f"({worst_wall.slug}) → {met(worst_wall.wall_median_s)}; CPU {_ms(worst_cpu.cpu_median_s)} ms "
            f"({worst_cpu.slug}) → {met(worst_cpu.cpu_median_s)}.")
    if over:
        line += f" Over the budget (wall): {', '.join(over)}."
    if errors:
        line += f" Errors: {', '.join(errors)}."
    return line


def run_table(settings: str, reruns: int, wanted: set[str], uncached: bool) -> list[PageResult]:
    heavy = settings == "max"
    load = os.getloadavg()
    print(f"\n### {settings} settings{' (uncached)' if uncached else ''}: {reruns} timed reruns per page, "
          f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at start\n")
    print("| page | first render s | rerun median ms | rerun p95 ms | CPU median ms | of which post-script GC ms | "
          "widget alternated |")
    print("|---|---:|---:|---:|---:|---:|---|")
    results = []
    for entry in (HOME, *PAGES):
        if (wanted or entry is HOME) and entry.slug not in wanted:
            continue
        r = bench_page(entry, reruns, heavy, uncached)
        results.append(r)
        what = f"ERROR: {r.error}" if r.error else r.widget
        print(f"| {r.slug} | {r.first_render_s:.2f} | {_ms(r.wall_median_s)} | {_ms(r.wall_p95_s)} | "
              f"{_ms(r.cpu_median_s)} | {_ms(r.gc_median_s) if post_script_gc() else 'off'} | {what} |", flush=True)
    load = os.getloadavg()
    print(f"\nLoad average at end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n")
    print(verdict(results, settings), flush=True)
    return results


def _quiet_streamlit_logs() -> None:
    """Bare-mode notices that say nothing about the pages (AppTest has no server runtime)."""
    for name in ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).addFilter(lambda record: record.levelno >= logging.ERROR)  # Streamlit resets levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", choices=("default", "max", "both"), default="default")
    parser.add_argument("--reruns", type=int, default=20, help="timed reruns per page (after 2 warm-up reruns)")
    parser.add_argument("--pages", default="", help="comma-separated slugs (default: every registered page)")
    parser.add_argument("--uncached", action="store_true", help="clear st.cache_data and the kept figures before every timed rerun")
    args = parser.parse_args()
    wanted = {s for s in args.pages.split(",") if s}
    unknown = wanted - {p.slug for p in (HOME, *PAGES)}
    if unknown:
        parser.error(f"unknown page(s): {', '.join(sorted(unknown))}")
    _quiet_streamlit_logs()
    wait_for_core()  # as the server does before a course page: every module imported, torch's threads configured
    gc_state = "on, as `runner.postScriptGC` says" if post_script_gc() else "off (`runner.postScriptGC` = false)"
    print(f"Pages rerun benchmark: {os.cpu_count()} CPUs, torch threads: {_torch_threads()}, post-script "
          f"gc.collect(2) {gc_state}")
    with server_script_cache():
        for settings in (("default", "max") if args.settings == "both" else (args.settings,)):
            run_table(settings, args.reruns, wanted, args.uncached)


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
