"""Classroom load: N concurrent Chromium sessions moving sliders against one `streamlit run` for a fixed time.

    python -m bench.bench_classroom [--sessions 10] [--seconds 60] [--think-ms 1000] [--quiz-every 3]
                                    [--pages slug,slug,...]

One server (`streamlit run app.py` on a free loopback port, the browser tests' `start_streamlit`) and one headless
Debian Chromium with one browser context per session (Playwright's asyncio API; each context is its own Streamlit
session), all on this machine. First one context opens the home page (the teacher; `--no-warm-up` skips it). Then
session i opens page i mod len(--pages) and waits until its first chart is drawn. When every session is ready and
`--settle` seconds have passed, the timed phase starts for all at once: until `--seconds` have passed each session
repeatedly focuses the first visible slider in the page's main area (ARIA role slider: Streamlit's range
`<input>`), presses ArrowRight or ArrowLeft (turning at the slider's ends), waits for the rerun to finish, then
pauses `--think-ms` (uniform 0.5×–1.5×, seeded; 0 = no pause, a stress test). Every `--quiz-every`-th action
(0: never) answers one of the page's quiz questions instead (the next one in turn: a random option, or a number
typed in; then Enter on its Check button) — the learners' progress goes to the server's progress database, in a
fresh temporary folder ($ATTENTION_LAB_DATA) unless `--data-dir` names one.

After the run the database is checked against what the sessions did: each session's learner (read from its
browser's cookie) must hold exactly the questions it answered, each graded as `course.quiz.check_answer` grades
the last answer sent; a missing, extra or wrongly graded answer counts as an error.

Rerun latency is measured inside the page, on the browser's clock: from the keydown event to the moment the app's
`[data-testid='stApp']` has gone through a running state back to `data-test-script-state='notRunning'` (a
MutationObserver installed before the app loads records each change: `bench.browser_probe`). The page must then show
its Plotly chart, or a warning (`stAlert`, counted as "warned": a page explaining an invalid combination).
It includes Streamlit's websocket round trip, the script rerun on the server and the browser applying the deltas.
CPU use of the server and of Chromium (with the Playwright driver) over the timed phase is read from /proc.

Errors: browser console errors (the `_stcore`/favicon probes the browser tests ignore are ignored here too),
uncaught page errors, a modal dialog open once the page is ready, `[data-testid='stException']` elements after a
rerun, a rerun that shows neither a chart nor a message, and reruns that did not finish within `--rerun-timeout`
seconds. Bounded: moves stop at `--seconds`, and a hard deadline (setup + settle + seconds + rerun timeout + 30 s)
cancels everything and stops the server; a watchdog thread exits the process if even that hangs.

Budget (issue): 10 sessions for 60 s on the 2-core machine: 0 errors and p95 rerun ≤ 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.browser_probe import CHART_SVG, OBSERVER_JS, RUN_DONE_JS, chromium_path
from course.lesson_format import lesson_by_id
from course.progress_store import DATA_ENV, ProgressStore
from course.quiz import check_answer
from course.registry import page_by_slug
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    READY,
    _free_port,
    is_ignorable_console_error,
    start_streamlit,
    wait_healthy,
)

DEFAULT_PAGES = "attention_step_by_step,masks,transformer_block,efficient_variants,positional_encodings"
P95_BUDGET_S = 2.0
MAIN_SLIDERS = "[data-testid='stMain'] [data-testid='stSlider']:visible"  # role=slider: its range <input>

# The widget key classes of the page's quiz inputs: st-key-quiz--<lesson>--<question>--choice|number.
QUIZ_KEYS_JS = """() => [...document.querySelectorAll("[class*='st-key-quiz--']")]
  .map(e => [...e.classList].find(c => c.startsWith('st-key-quiz--')))
  .filter(c => c && (c.endsWith('--choice') || c.endsWith('--number')))"""
LEARNER_COOKIE = "attention_lab_learner"

VALUE_JS = """e => ['value', 'min', 'max'].map(
  (a) => Number(e[a] ?? e.getAttribute('aria-value' + (a === 'value' ? 'now' : a))))"""


@dataclass
class Session:
    index: int
    slug: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ready_s: float = float("nan")
    warned: int = 0
    batched: int = 0  # runs the app's state attribute never showed (React batched them); seen on the websocket
    frames_sent: int = 0  # websocket messages the page sent to the server (a widget change is one)
    collecting: bool = True
    quiz_latencies: list[float] = field(default_factory=list)
    answers: dict[tuple[str, str], float] = field(default_factory=dict)  # (lesson, question) → last answer sent
    quiz_turn: int = 0
    learner: str | None = None  # the learner id in this browser's cookie, read after the run

    def error(self, text: str) -> None:
        if self.collecting:
            self.errors.append(text)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


async def open_session(browser, url: str, s: Session, timeout_ms: int):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(OBSERVER_JS)
    page = await context.new_page()

    def on_console(msg) -> None:
        if msg.type == "error":
            location = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
            text = f"{msg.text} @ {location}"
            if not is_ignorable_console_error(text):
                s.error(f"console: {text[:200]}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: s.error(f"pageerror: {str(exc)[:200]}"))

    def count_frames(ws) -> None:
        ws.on("framesent", lambda _frame: setattr(s, "frames_sent", s.frames_sent + 1))

    page.on("websocket", count_frames)
    t0 = time.perf_counter()
    try:
        await page.goto(f"{url}/{s.slug}", timeout=timeout_ms)
        await page.wait_for_selector(READY, timeout=timeout_ms)
        await page.wait_for_selector(CHART_SVG, timeout=timeout_ms)
        await first_slider(page).wait_for(state="attached", timeout=timeout_ms)
    except PlaywrightTimeout as exc:  # the session never became usable: an error, and it sits the timed phase out
        app = page.locator("[data-testid='stApp']")
        states = [await app.get_attribute(a, timeout=2000) if await app.count() else None
                  for a in ("data-test-script-state", "data-test-connection-state")]
        s.error(f"page not ready in {timeout_ms / 1000:.0f} s ({str(exc).splitlines()[0][:80]}; script state "
                f"{states[0]}, connection {states[1]}, charts {await page.locator(CHART_SVG).count()})")
        return context, None
    s.ready_s = time.perf_counter() - t0
    for dialog in await page.locator("[role='dialog']").all_inner_texts():  # a modal makes the page inert
        s.error(f"dialog: {' '.join(dialog.split())[:160]}")
    return context, page


async def warm_up(browser, url: str, timeout_ms: int) -> float:
    """The teacher opens the home page first: the server's first session, before any student's deep link."""
    t0 = time.perf_counter()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url, timeout=timeout_ms)
    await page.wait_for_selector("h1:has-text('Attention Lab')", timeout=timeout_ms)
    await page.wait_for_selector(READY, timeout=timeout_ms)
    await context.close()
    return time.perf_counter() - t0


def first_slider(page):
    """The first visible slider of the page's main area (ARIA role slider: Streamlit's range input)."""
    return page.locator(MAIN_SLIDERS).first.get_by_role("slider").first


async def answer_quiz(page, s: Session, rng: random.Random, rerun_timeout_ms: int) -> None:
    """Answer the page's next quiz question (a random option, or a number) and wait for the graded rerun."""
    keys = await page.evaluate(QUIZ_KEYS_JS)
    if not keys:
        s.error("no quiz question on the page")
        return
    cls = keys[s.quiz_turn % len(keys)]
    s.quiz_turn += 1
    _, lesson_id, question_id, kind = cls.removeprefix("st-key-").split("--")
    widget = page.locator(f".{cls}")
    form = page.locator("[data-testid='stForm']").filter(has=widget)
    if kind == "choice":
        options = widget.locator("[role='radiogroup'] label")
        response: float = rng.randrange(await options.count())
        await options.nth(int(response)).click(timeout=rerun_timeout_ms)
    else:
        response = rng.choice([1, 36, 64, 1024])
        await widget.locator("input").fill(str(response), timeout=rerun_timeout_ms)
    start = await page.evaluate("window.__bench.events.length")
    await form.get_by_role("button", name="Check").press("Enter", timeout=rerun_timeout_ms)
    handle = await page.wait_for_function(RUN_DONE_JS, arg={"start": start, "chart": False}, polling=50,
                                          timeout=rerun_timeout_ms)
    keydown, done, _, _ = await handle.json_value()
    s.quiz_latencies.append((done - keydown) / 1000)
    s.answers[(lesson_id, question_id)] = response
    if await page.locator("[data-testid='stException']").count():
        s.error("stException shown after a quiz check")


async def move_sliders(page, s: Session, end: float, think_s: float, rerun_timeout_ms: int, seed: int,
                       quiz_every: int = 0) -> None:
    if page is None:  # never became ready
        return
    rng = random.Random(seed)
    direction = "ArrowRight"
    action = 0
    while time.monotonic() < end:
        slider = first_slider(page)
        action += 1
        try:
            if quiz_every and action % quiz_every == 0:
                await answer_quiz(page, s, rng, rerun_timeout_ms)
                continue
            now, low, high = await slider.evaluate(VALUE_JS, timeout=rerun_timeout_ms)
            if now >= high:
                direction = "ArrowLeft"
            elif now <= low:
                direction = "ArrowRight"
            start, frames = await page.evaluate("window.__bench.events.length"), s.frames_sent
            await slider.press(direction, timeout=rerun_timeout_ms)
            try:
                handle = await page.wait_for_function(RUN_DONE_JS, arg={"start": start, "chart": False},
                                                      polling=50, timeout=rerun_timeout_ms)
            except PlaywrightTimeout:
                s.error(await _describe_timeout(page, slider, start, now, direction, rerun_timeout_ms)
                        + f"; websocket messages sent since the key: {s.frames_sent - frames}")
                continue
            keydown, done, _, attribute_seen = await handle.json_value()
            s.latencies.append((done - keydown) / 1000)
            s.batched += not attribute_seen
            if await page.locator("[data-testid='stException']").count():
                s.error("stException shown after a rerun")
            elif not await page.locator(CHART_SVG).count():
                if await page.locator("[data-testid='stAlert']").count():
                    s.warned += 1  # the page explains an invalid combination instead of drawing: not an error
                else:
                    s.error("no chart and no message after a rerun")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a timeout or a vanished element: counted, and the session goes on
            s.error(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        finally:
            direction = "ArrowLeft" if direction == "ArrowRight" else "ArrowRight"
            if think_s > 0:
                await asyncio.sleep(min(think_s * rng.uniform(0.5, 1.5), max(0.0, end - time.monotonic())))


async def _describe_timeout(page, slider, start: int, before: float, key: str, timeout_ms: int) -> str:
    """What the page did after a key press whose rerun never finished: the slider's value and the script states."""
    try:
        after = (await slider.evaluate(VALUE_JS, timeout=2000))[0]
        events = await page.evaluate(f"[window.__bench.keydown, window.__bench.events.slice({start})]")
        connection = await page.locator("[data-testid='stApp']").get_attribute("data-test-connection-state",
                                                                              timeout=2000)
    except Exception as exc:  # the page itself is stuck
        return f"rerun not finished in {timeout_ms / 1000:.0f} s ({key}); page unresponsive: {type(exc).__name__}"
    keydown, states = events
    seen = ", ".join(f"{state} at +{t - keydown:.0f} ms" for t, state, *_ in states) if keydown else "no keydown"
    return (f"rerun not finished in {timeout_ms / 1000:.0f} s ({key}: slider {before:g} → {after:g}; "
            f"script states since the key: {seen or 'none'}; connection {connection})")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def _machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds of `root` and every live descendant (here: this script, the Playwright driver, Chromium and its
    renderers, the server)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = _cpu_seconds(root), list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += _cpu_seconds(pid) if os.path.exists(f"/proc/{pid}") else 0.0
        todo.extend(children.get(pid, []))
    return total


async def classroom(args, url: str, server_pid: int) -> tuple[list[Session], dict]:
    from playwright.async_api import async_playwright

    slugs = [s for s in args.pages.split(",") if s]
    sessions = [Session(i, slugs[i % len(slugs)]) for i in range(args.sessions)]
    info: dict = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            info["warm_up_s"] = await warm_up(browser, url, args.setup_timeout * 1000) if args.warm_up else None
            t0 = time.perf_counter()
            opened = await asyncio.gather(*(open_session(browser, url, s, args.setup_timeout * 1000)
                                            for s in sessions))
            info["setup_s"] = time.perf_counter() - t0
            tree0 = _tree_cpu_seconds(os.getpid())
            await asyncio.sleep(args.settle)  # let every page finish drawing below its first chart
            info["settle_cores"] = (_tree_cpu_seconds(os.getpid()) - tree0) / args.settle if args.settle else 0.0
            info["load_before"] = os.getloadavg()
            cpu0, tree0, busy0 = _cpu_seconds(server_pid), _tree_cpu_seconds(os.getpid()), _machine_busy_seconds()
            w0 = time.perf_counter()
            end = time.monotonic() + args.seconds
            await asyncio.gather(*(move_sliders(page, s, end, args.think_ms / 1000, args.rerun_timeout * 1000,
                                                seed=s.index, quiz_every=args.quiz_every)
                                   for s, (_, page) in zip(sessions, opened, strict=True)))
            info["timed_s"] = time.perf_counter() - w0
            server = _cpu_seconds(server_pid) - cpu0
            info["server_cores"] = server / info["timed_s"]
            client = _tree_cpu_seconds(os.getpid()) - tree0 - server
            info["browser_cores"] = client / info["timed_s"]
            reruns = sum(len(s.latencies) for s in sessions)
            info["server_ms_per_rerun"] = 1e3 * server / reruns if reruns else float("nan")
            info["browser_ms_per_rerun"] = 1e3 * client / reruns if reruns else float("nan")
            info["other_cores"] = (_machine_busy_seconds() - busy0 - server - client) / info["timed_s"]
            info["load_after"] = os.getloadavg()
            for s in sessions:
                s.collecting = False  # closing contexts drops websockets: not the app's errors
            for s, (context, _) in zip(sessions, opened, strict=True):
                s.learner = next((c["value"] for c in await context.cookies() if c["name"] == LEARNER_COOKIE), None)
                await context.close()
        finally:
            await browser.close()
    return sessions, info


def _ms(values: list[float], fn) -> str:
    return f"{fn(values) * 1e3:.0f}" if values else "—"


def _ready(group: list[Session]) -> str:
    ready = [s.ready_s for s in group if not math.isnan(s.ready_s)]
    never = len(group) - len(ready)
    return (f"{max(ready):.1f}" if ready else "—") + (f" ({never} never)" if never else "")


def check_database(sessions: list[Session], folder: Path) -> dict:
    """Compare each session's answers with what the progress database holds for its learner."""
    store = ProgressStore(folder)
    sent = saved = 0
    problems: list[str] = []
    learners = [s.learner for s in sessions if s.answers]
    if len(set(learners)) != len(learners):
        problems.append("two sessions share one learner id")
    for s in sessions:
        if not s.answers:
            continue
        if s.learner is None:
            problems.append(f"session {s.index}: no learner cookie")
            continue
        held = {(lesson, q): correct for lesson, record in store.load(s.learner)["lessons"].items()
                for q, correct in record["quiz"].items()}
        for (lesson_id, question_id), response in s.answers.items():
            sent += 1
            question = next(q for q in lesson_by_id(lesson_id).quiz if q.id == question_id)
            expected = check_answer(question, response).correct
            if (lesson_id, question_id) not in held:
                problems.append(f"session {s.index}: {lesson_id}/{question_id} missing")
            elif held[(lesson_id, question_id)] != expected:
                problems.append(f"session {s.index}: {lesson_id}/{question_id} graded {held[(lesson_id, question_id)]}")
            else:
                saved += 1
        extra = set(held) - set(s.answers)
        if extra:
            problems.append(f"session {s.index}: {len(extra)} answers it never gave")
    return {"sent": sent, "saved": saved, "problems": problems}


def report(args, sessions: list[Session], info: dict) -> None:
    lat = [x for s in sessions for x in s.latencies]
    errors = [e for s in sessions for e in s.errors]
    lb, la = info["load_before"], info["load_after"]
    print(f"Classroom load: {args.sessions} Chromium sessions (one browser, one context each), {args.seconds:.0f} s, "
          f"think time {args.think_ms:.0f} ms (×0.5–1.5), {os.cpu_count()} CPUs; "
          + (f"home page warm-up {info['warm_up_s']:.1f} s; " if info["warm_up_s"] is not None else "no warm-up; ")
          + f"all sessions ready after "
          f"{info['setup_s']:.1f} s, then {args.settle:.0f} s to settle (browser + server used "
          f"{info['settle_cores']:.2f} cores). Load average {lb[0]:.2f} before the timed phase, {la[0]:.2f} after; the server "
          f"used {info['server_cores']:.2f} cores on average, Chromium with Playwright and this script "
          f"{info['browser_cores']:.2f} cores, everything else on the machine {max(0.0, info['other_cores']):.2f} "
          f"cores (of {os.cpu_count()}). CPU per rerun: server {info['server_ms_per_rerun']:.0f} ms, browser side "
          f"{info['browser_ms_per_rerun']:.0f} ms.\n")
    print("| sessions | seconds | total reruns | reruns/s | warned | errors | rerun median ms | rerun p95 ms | "
          "rerun max ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.sessions} | {info['timed_s']:.1f} | {len(lat)} | {len(lat) / info['timed_s']:.1f} | "
          f"{sum(s.warned for s in sessions)} | {len(errors)} | {_ms(lat, statistics.median)} | {_ms(lat, p95)} | {_ms(lat, max)} |")
    print("\n| page | sessions | reruns | warned | errors | ready s (max) | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for slug in dict.fromkeys(s.slug for s in sessions):
        group = [s for s in sessions if s.slug == slug]
        gl = [x for s in group for x in s.latencies]
        print(f"| {slug} | {len(group)} | {len(gl)} | {sum(s.warned for s in group)} | "
              f"{sum(len(s.errors) for s in group)} | "
              f"{_ready(group)} | {_ms(gl, statistics.median)} | {_ms(gl, p95)} | "
              f"{_ms(gl, max)} |")
    quiz = [x for s in sessions for x in s.quiz_latencies]
    db = info.get("database")
    if db is not None:
        print(f"\nQuiz answers (one action in {args.quiz_every}): {db['sent']} distinct questions answered "
              f"({len(quiz)} checks), {db['saved']} held by the progress database exactly as graded, "
              f"{len(db['problems'])} problems; check rerun median {_ms(quiz, statistics.median)} ms, "
              f"p95 {_ms(quiz, p95)} ms.")
        for problem in db["problems"][:10]:
            print(f"- {problem}")
    batched = sum(s.batched for s in sessions)
    if batched:
        print(f"\n{batched} of {len(lat)} runs never showed in the app's script-state attribute (React batched "
              "\"running\" and \"notRunning\"); their end was read from the server's script_finished message.")
    met = not errors and lat and p95(lat) <= P95_BUDGET_S and not (db and db["problems"])
    print(f"\nBudget (0 errors, p95 ≤ {P95_BUDGET_S:.0f} s): {'met' if met else 'MISSED'} "
          f"({len(errors)} errors, p95 {_ms(lat, p95)} ms).")
    for e in list(dict.fromkeys(errors))[:10]:
        print(f"- {e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the timed slider-moving phase")
    parser.add_argument("--think-ms", type=float, default=1000.0, help="mean pause between moves (0: none)")
    parser.add_argument("--pages", default=DEFAULT_PAGES, help="comma-separated slugs, spread over the sessions")
    parser.add_argument("--rerun-timeout", type=float, default=20.0, help="seconds before a rerun counts as an error")
    parser.add_argument("--quiz-every", type=int, default=3,
                        help="every N-th action of a session answers a quiz question (0: sliders only)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the server's progress folder (default: a fresh temporary one)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip opening the home page once before the sessions (their deep links then hit a "
                             "cold server)")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds to wait after every session is ready, before the timed phase")
    parser.add_argument("--setup-timeout", type=float, default=240.0, help="seconds for all sessions to open")
    args = parser.parse_args()
    for slug in args.pages.split(","):
        page_by_slug(slug)  # KeyError with the known slugs if mistyped

    hard_deadline = args.setup_timeout + args.settle + args.seconds + args.rerun_timeout + 30
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="attention-lab-classroom-"))
    os.environ[DATA_ENV] = str(data_dir)  # the server inherits it: the bench never writes a real learner's progress
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_streamlit(port)

    def watchdog() -> None:  # last resort if the event loop itself hangs
        proc.kill()
        print(f"bench_classroom: hard deadline {hard_deadline + 60:.0f} s passed; exiting", file=sys.stderr,
              flush=True)
        os._exit(3)

    timer = threading.Timer(hard_deadline + 60, watchdog)
    timer.daemon = True
    timer.start()
    try:
        wait_healthy(url, proc)
        sessions, info = asyncio.run(asyncio.wait_for(classroom(args, url, proc.pid), timeout=hard_deadline))
    finally:
        timer.cancel()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
    if args.quiz_every:
        info["database"] = check_database(sessions, data_dir)
    report(args, sessions, info)


if __name__ == "__main__":
    main()
