"""Cold start: `streamlit run app.py` to first paint in Debian's Chromium, on a new server every repeat.

    python -m bench.bench_cold_start [--repeats 3] [--page attention_step_by_step]

Each repeat starts a fresh `streamlit run app.py` on a free loopback port (the browser tests' own
`start_streamlit` / `wait_healthy`) and, in an already running headless Chromium (Playwright, a new context per
repeat), measures from the moment the process is spawned:

- **health**: `/_stcore/health` answers 200 (polled every 0.3 s by `wait_healthy`, so ±0.3 s);
- **home painted**: the home page is requested right after health; its course map title is shown and the app's
  script state is `notRunning` (the first script run, which imports torch and the page code, is done);
- **chart visible**: a content page (`--page`) is then opened in a new tab; its first Plotly chart has drawn its SVG.

The last two are also given from their own `goto` (load time of that page alone). The browser launch is not counted.
Errors: console errors and page errors (as the browser tests count them), tracebacks and modal dialogs shown.
Prints a markdown table of every repeat and the median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from course.registry import page_by_slug
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, READY, ConsoleLog, _free_port, start_streamlit, wait_healthy

TIMEOUT_MS = 180_000
CHART_SVG = "[data-testid='stMain'] [data-testid='stPlotlyChart'] .main-svg"


def chromium_path() -> str:
    """Debian's Chromium: `$CHROMIUM_PATH`, /usr/bin/chromium, or `chromium` on the PATH (as the browser tests)."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    return exe


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def one_cold_start(browser, slug: str) -> dict[str, float]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_streamlit(port)
    context = None
    try:
        wait_healthy(url, proc, timeout_s=TIMEOUT_MS / 1000)
        health = time.perf_counter() - t0
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        home = context.new_page()
        home_log = ConsoleLog(home)
        g0 = time.perf_counter()
        home.goto(url, timeout=TIMEOUT_MS)
        home.wait_for_selector("h1:has-text('Attention Lab')", timeout=TIMEOUT_MS)
        home.wait_for_selector(READY, timeout=TIMEOUT_MS)
        home_done = time.perf_counter()
        page = context.new_page()
        page_log = ConsoleLog(page)
        c0 = time.perf_counter()
        page.goto(f"{url}/{slug}", timeout=TIMEOUT_MS)
        page.wait_for_selector(CHART_SVG, state="visible", timeout=TIMEOUT_MS)
        chart_done = time.perf_counter()
        errors = [f"stException on {p.url}" for p in (home, page) if p.locator("[data-testid='stException']").count()]
        errors += [f"dialog: {' '.join(t.split())[:120]}" for p in (home, page)
                   for t in p.locator("[role='dialog']").all_inner_texts()]
        errors += home_log.errors + page_log.errors
        return {
            "health": health,
            "home": home_done - t0,
            "home_goto": home_done - g0,
            "chart": chart_done - t0,
            "chart_goto": chart_done - c0,
            "errors": errors,
        }
    finally:
        if context is not None:
            context.close()
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page", default="attention_step_by_step", help="slug of the content page to open")
    args = parser.parse_args()
    page_by_slug(args.page)  # KeyError with the known slugs if mistyped

    from playwright.sync_api import sync_playwright

    load = os.getloadavg()
    print(f"Cold start: {args.repeats} repeats, content page /{args.page}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at start\n")
    print("| repeat | health s | home painted s | chart visible s | home goto→paint s | page goto→chart s | "
          "errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(args.repeats):
                r = one_cold_start(browser, args.page)
                rows.append(r)
                print(f"| {i + 1} | {r['health']:.2f} | {r['home']:.2f} | {r['chart']:.2f} | {r['home_goto']:.2f} | "
                      f"{r['chart_goto']:.2f} | {len(r['errors'])} |", flush=True)
        finally:
            browser.close()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"| **median** | **{med('health'):.2f}** | **{med('home'):.2f}** | **{med('chart'):.2f}** | "
          f"**{med('home_goto'):.2f}** | **{med('chart_goto'):.2f}** | {sum(len(r['errors']) for r in rows)} |")
    for e in dict.fromkeys(e for r in rows for e in r["errors"]):
        print(f"- {e}")
    load = os.getloadavg()
    print(f"\nLoad average at end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
