"""Cold start: `streamlit run` to first paint in Debian's Chromium, Attention Lab against a bare one-line app.

    python -m bench.bench_cold_start [--repeats 3] [--page attention_step_by_step]

Every repeat starts three fresh servers on free loopback ports, in a rotating order (so a change of load on the
machine hits each kind alike), each measured in a new browser context (nothing in the browser's cache) of one
already running headless Chromium (Playwright), from the moment its process is spawned:

- **bare**: a one-line app (``st.write("Hello, world")``) in an empty folder; its first paint is the text shown and
  the app's script state ``notRunning``. This is the yardstick: Streamlit's own start plus the browser's.
- **reader**: ``app.py``; **map painted** when the course map's title is shown and the first script run is done.
  Then the learner reads the map: the script waits until the server process is idle (below 10 % of a core for
  2 s, longer than the warm-up's wait before it begins; read from ``/proc``: the background import of the
  transformer core is over; **core loaded** is when that idle window began) and clicks the map's link to the
  content page (``--page``): **chart after reading** is that click to the page's first Plotly chart drawn as SVG,
  on the page's clock (``bench.browser_probe``).
- **hasty**: ``app.py`` again, but the content page's link is clicked as soon as the map has painted: **chart at
  once** is that click to the first chart (the page waits for the core under a spinner first).

The two ratios the course's cold-start goals are set in: map painted / bare first paint (goal ≤ 1.5) and chart after
reading / bare first paint (goal ≤ 1.0). Errors: console errors and page errors (as the browser tests count them),
tracebacks and modal dialogs shown. Prints a markdown table of every repeat and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.browser_probe import CHART_SVG, OBSERVER_JS, RUN_DONE_JS, chromium_path
from course.registry import page_by_slug
from tests.browser.conftest import CHROMIUM_ARGS, READY, ROOT, ConsoleLog, _free_port, wait_healthy
from ui.process_setup import WARM_UP_DELAY_S

TIMEOUT_MS = 180_000
BARE_APP = 'import streamlit as st\nst.write("Hello, world")\n'
# Longer than the warm-up's wait after the map's first run (ui.process_setup): a quiet map waiting for the warm-up to
# begin must not pass for a loaded core.
IDLE_WINDOW_S = WARM_UP_DELAY_S + 0.5
IDLE_CPU_SHARE = 0.10  # of one core
COLUMNS = {  # key: header
    "bare": "bare app: first paint s",
    "health": "lab: health s",
    "map": "lab: map painted s",
    "core": "lab: core loaded s",
    "read_chart": "lab: click → chart, after reading s",
    "hasty_chart": "lab: click → chart, at once s",
    "map_ratio": "map / bare",
    "chart_ratio": "chart after reading / bare",
}


def start_server(script: Path, port: int) -> subprocess.Popen:
    """`streamlit run script` as the browser tests start it (headless, no file watcher), in the script's folder."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
        "--server.fileWatcherType=none", "--browser.gatherUsageStats=false",
    ]
    return subprocess.Popen(cmd, cwd=script.parent, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid`, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def wait_until_idle(pid: int, timeout_s: float = TIMEOUT_MS / 1000) -> float:
    """Block until process `pid` used under IDLE_CPU_SHARE of a core over IDLE_WINDOW_S; return perf_counter() at
    the start of that window."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        t, cpu = time.perf_counter(), _cpu_seconds(pid)
        time.sleep(IDLE_WINDOW_S)
        if _cpu_seconds(pid) - cpu < IDLE_CPU_SHARE * (time.perf_counter() - t):
            return t
    raise TimeoutError(f"server {pid} was not idle within {timeout_s} s")


def _errors(log: ConsoleLog, page) -> list[str]:
    errors = [f"stException on {page.url}"] if page.locator("[data-testid='stException']").count() else []
    errors += [f"dialog: {' '.join(t.split())[:120]}" for t in page.locator("[role='dialog']").all_inner_texts()]
    return errors + log.errors


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(OBSERVER_JS)
    page = context.new_page()
    return context, page, ConsoleLog(page)


def bare_first_paint(browser, folder: Path) -> dict:
    """Spawn → first paint of the one-line app."""
    script = folder / "bare_app.py"
    script.write_text(BARE_APP)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_server(script, port)
    context = None
    try:
        wait_healthy(url, proc, timeout_s=TIMEOUT_MS / 1000)
        context, page, log = _new_page(browser)
        page.goto(url, timeout=TIMEOUT_MS)
        page.wait_for_selector("[data-testid='stMain'] :text('Hello, world')", timeout=TIMEOUT_MS)
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        return {"bare": time.perf_counter() - t0, "errors": _errors(log, page)}
    finally:
        if context is not None:
            context.close()
        _stop(proc)


def click_to_chart(page, slug: str) -> float:
    """Click the course map's link to `slug`; seconds (page clock) until that page's first chart is drawn."""
    start = page.evaluate("window.__bench.events.length")
    clicked = page.evaluate("performance.now()")
    link = page.locator(f"[data-testid='stMain'] a[data-testid='stPageLink-NavLink']:is([href='{slug}'], "
                        f"[href$='/{slug}'])")
    link.first.click(timeout=TIMEOUT_MS)
    _, _, drawn, _ = page.wait_for_function(RUN_DONE_JS, arg={"start": start, "chart": True}, polling=20,
                                            timeout=TIMEOUT_MS).json_value()
    page.wait_for_selector(CHART_SVG, state="visible", timeout=TIMEOUT_MS)
    return (drawn - clicked) / 1000


def lab_cold_start(browser, slug: str, read_first: bool) -> dict:
    """Spawn `app.py` → map painted; then (after the server went idle, if `read_first`) click through to `slug`."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_server(ROOT / "app.py", port)
    context = None
    try:
        wait_healthy(url, proc, timeout_s=TIMEOUT_MS / 1000)
        health = time.perf_counter() - t0
        context, page, log = _new_page(browser)
        page.goto(url, timeout=TIMEOUT_MS)
        page.wait_for_selector("h1:has-text('Attention Lab')", timeout=TIMEOUT_MS)
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        painted = time.perf_counter() - t0
        if read_first:
            result = {"health": health, "map": painted, "core": wait_until_idle(proc.pid) - t0}
            result["read_chart"] = click_to_chart(page, slug)
        else:  # the map is painted as in the reader's run: only the click → chart is kept
            result = {"hasty_chart": click_to_chart(page, slug)}
        result["errors"] = _errors(log, page)
        return result
    finally:
        if context is not None:
            context.close()
        _stop(proc)


def one_repeat(browser, slug: str, folder: Path, rotation: int) -> dict:
    """The three cold starts of one repeat, in the order given by `rotation`; merged into one row with the ratios."""
    runs = [lambda: bare_first_paint(browser, folder), lambda: lab_cold_start(browser, slug, read_first=True),
            lambda: lab_cold_start(browser, slug, read_first=False)]
    row: dict = {"errors": []}
    for k in range(len(runs)):
        result = runs[(k + rotation) % len(runs)]()
        row["errors"] += result.pop("errors")
        row.update(result)
    row["map_ratio"] = row["map"] / row["bare"]
    row["chart_ratio"] = row["read_chart"] / row["bare"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page", default="attention_step_by_step", help="slug of the content page to open")
    args = parser.parse_args()
    page_by_slug(args.page)  # KeyError with the known slugs if mistyped

    from playwright.sync_api import sync_playwright

    load = os.getloadavg()
    print(f"Cold start: {args.repeats} interleaved repeats (bare app, lab read first, lab clicked at once), content "
          f"page /{args.page}, {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
          f"at start\n")
    print("| repeat | " + " | ".join(COLUMNS.values()) + " | errors |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    rows = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="bare_app_") as folder:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(args.repeats):
                r = one_repeat(browser, args.page, Path(folder), rotation=i)
                rows.append(r)
                cells = " | ".join(f"{r[k]:.2f}" for k in COLUMNS)
                print(f"| {i + 1} | {cells} | {len(r['errors'])} |", flush=True)
        finally:
            browser.close()
    medians = " | ".join(f"**{statistics.median(r[k] for r in rows):.2f}**" for k in COLUMNS)
    print(f"| **median** | {medians} | {sum(len(r['errors']) for r in rows)} |")
    for e in dict.fromkeys(e for r in rows for e in r["errors"]):
        print(f"- {e}")
    map_ratio = statistics.median(r["map"] for r in rows) / statistics.median(r["bare"] for r in rows)
    chart_ratio = statistics.median(r["read_chart"] for r in rows) / statistics.median(r["bare"] for r in rows)
    print(f"\nRatios of the medians: map painted / bare first paint = {map_ratio:.2f} (goal ≤ 1.5: "
          f"{'met' if map_ratio <= 1.5 else 'MISSED'}); chart after reading / bare first paint = {chart_ratio:.2f} "
          f"(goal ≤ 1.0: {'met' if chart_ratio <= 1.0 else 'MISSED'}).")
    load = os.getloadavg()
    print(f"Load average at end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
