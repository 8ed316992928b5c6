"""Cold start: `streamlit run app.py` to first paint in Debian's Chromium, on a new server every repeat.

    python -m bench.bench_cold_start [--repeats 3] [--page attention_step_by_step]

Each repeat starts a fresh `streamlit run app.py` on a free loopback port (the browser tests' own
`start_streamlit` / `wait_healthy`) and, in an already running headless Chromium (Playwright, a new context per
repeat, so nothing is in the browser's cache), measures from the moment the process is spawned:

- **health**: `/_stcore/health` answers 200 (polled every 0.3 s by `wait_healthy`, so ±0.3 s);
- **home painted**: the home page is requested right after health; its course map title is shown and the app's
  script state is `notRunning` (the first script run, which imports torch and the page code, is done);
- **chart drawn**: a content page (`--page`) is then opened in a new tab; its first Plotly chart has drawn its SVG.

For the content page the time from its own navigation is split on the page's clock (`bench.browser_probe`): until
its script run finished (server work + websocket) and until Plotly had drawn the chart (the rest is the browser:
loading and compiling the Plotly bundle, React, drawing). The browser launch itself is not counted.
Errors: console errors and page errors (as the browser tests count them), tracebacks and modal dialogs shown.
Prints a markdown table of every repeat and the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from bench.browser_probe import CHART_SVG, OBSERVER_JS, RUN_DONE_JS, chromium_path
from course.registry import page_by_slug
from tests.browser.conftest import CHROMIUM_ARGS, READY, ConsoleLog, _free_port, start_streamlit, wait_healthy

TIMEOUT_MS = 180_000
COLUMNS = {  # key: header
    "health": "health s",
    "home": "home painted s",
    "chart": "content chart drawn s",
    "home_goto": "home: goto → painted s",
    "page_run": "content: navigation → run done s",
    "page_chart": "content: navigation → chart drawn s",
}


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def one_cold_start(browser, slug: str) -> dict:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_streamlit(port)
    context = None
    try:
        wait_healthy(url, proc, timeout_s=TIMEOUT_MS / 1000)
        health = time.perf_counter() - t0
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(OBSERVER_JS)
        home = context.new_page()
        home_log = ConsoleLog(home)
        g0 = time.perf_counter()
        home.goto(url, timeout=TIMEOUT_MS)
        home.wait_for_selector("h1:has-text('Attention Lab')", timeout=TIMEOUT_MS)
        home.wait_for_selector(READY, timeout=TIMEOUT_MS)
        home_done = time.perf_counter()
        page = context.new_page()
        page_log = ConsoleLog(page)
        page.goto(f"{url}/{slug}", timeout=TIMEOUT_MS)
        _, run_ms, chart_ms, _ = page.wait_for_function(RUN_DONE_JS, arg={"start": 0, "chart": True}, polling=20,
                                                     timeout=TIMEOUT_MS).json_value()
        chart_done = time.perf_counter()
        page.wait_for_selector(CHART_SVG, state="visible", timeout=TIMEOUT_MS)
        errors = [f"stException on {p.url}" for p in (home, page) if p.locator("[data-testid='stException']").count()]
        errors += [f"dialog: {' '.join(t.split())[:120]}" for p in (home, page)
                   for t in p.locator("[role='dialog']").all_inner_texts()]
        errors += home_log.errors + page_log.errors
        return {
            "health": health,
            "home": home_done - t0,
            "chart": chart_done - t0,
            "home_goto": home_done - g0,
            "page_run": run_ms / 1000,
            "page_chart": chart_ms / 1000,
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
    print("| repeat | " + " | ".join(COLUMNS.values()) + " | errors |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(args.repeats):
                r = one_cold_start(browser, args.page)
                rows.append(r)
                cells = " | ".join(f"{r[k]:.2f}" for k in COLUMNS)
                print(f"| {i + 1} | {cells} | {len(r['errors'])} |", flush=True)
        finally:
            browser.close()
    medians = " | ".join(f"**{statistics.median(r[k] for r in rows):.2f}**" for k in COLUMNS)
    print(f"| **median** | {medians} | {sum(len(r['errors']) for r in rows)} |")
    for e in dict.fromkeys(e for r in rows for e in r["errors"]):
        print(f"- {e}")
    load = os.getloadavg()
    print(f"\nLoad average at end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
