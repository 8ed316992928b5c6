"""Latency benchmark: rerun time of every registered page after a widget change (AppTest, in process).

    python -m bench.bench_pages [--reruns 20] [--pages slug,slug]

For each page: open it, then alternate its first main-area slider (or select box) between two values and time
`at.run()` — the whole script rerun (our compute + figure building + Streamlit's own work). Prints median and p95.
Also times the first render (cold: imports, cache fills) separately.
"""

from __future__ import annotations

import argparse
import statistics
import time

from course.registry import PAGES
from tests.apptest_utils import open_page


def _first_widget(at, slug: str):
    for kind in ("slider", "selectbox", "number_input"):
        for widget in at.get(kind):
            if widget.key and str(widget.key).startswith(slug) and not isinstance(widget.value, tuple):
                return kind, widget
    return None, None


def _alternatives(kind, widget):
    if kind == "slider":
        return widget.value, (widget.min if widget.value != widget.min else widget.max)
    if kind == "selectbox":
        options = list(widget.options)
        return widget.value, next((o for o in options if o != widget.value), widget.value)
    return widget.value, widget.value + (widget.step or 1)


def bench_page(entry, reruns: int) -> tuple[float, float, float, str]:
    start = time.perf_counter()
    at = open_page(entry.module)
    cold = time.perf_counter() - start
    kind, widget = _first_widget(at, entry.slug)
    if widget is None:
        return cold, float("nan"), float("nan"), "(no widget)"
    a, b = _alternatives(kind, widget)
    key, times = widget.key, []
    for i in range(reruns + 2):
        target = b if i % 2 == 0 else a
        w = at.get(kind)
        w = next(x for x in w if x.key == key)
        (w.select(target) if kind == "selectbox" else w.set_value(target))
        t0 = time.perf_counter()
        at.run()
        if i >= 2:  # two warm-up reruns fill caches
            times.append(time.perf_counter() - t0)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return cold, statistics.median(times), p95, f"{kind} '{widget.label}'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--pages", default="", help="comma-separated slugs (default: all)")
    args = parser.parse_args()
    wanted = {s for s in args.pages.split(",") if s}
    print(f"| page | first render s | rerun median ms | rerun p95 ms | widget changed |")
    print("|---|---:|---:|---:|---|")
    for entry in PAGES:
        if wanted and entry.slug not in wanted:
            continue
        cold, median, p95, what = bench_page(entry, args.reruns)
        print(f"| {entry.slug} | {cold:.2f} | {median * 1e3:.0f} | {p95 * 1e3:.0f} | {what} |", flush=True)


if __name__ == "__main__":
    main()
