"""Hostile text in a real Chromium: markup typed into every text box of every page shows as text, never runs.

For each registered page (pages added to the registry later are covered too), one page load; then every text input
and text area the page shows — the lab's boxes and the lesson's quiz boxes, in any tab — gets each payload, is
committed the way a user commits it (Enter; Ctrl+Enter in a text area; Enter submits a form) and the rerun is awaited.
After each one: no script ran (``window.__pwned`` unset, no dialog), no element or event handler was injected, no
traceback. A quiz box must answer with a message (markup is not a number). A page box that shows what is typed (a
plain probe word typed first appears in the page's text, e.g. as a token label) must show the markup as text too, or
say with a message why it cannot use it. Each page box then gets its default back, so the next box starts clean. The
browser console must stay clean for the whole visit, and a page with no text box is skipped.
"""

from __future__ import annotations

from functools import partial

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from course.registry import PAGES
from tests.browser.conftest import READY, ConsoleLog, wait_for_app

TIMEOUT_MS = 120_000

# (payload, the text a page that shows the payload as text must show). Each fits in 40 characters (the shortest
# max_chars of a box today); a box with a smaller limit gets what a user's paste would give: the cut payload.
PAYLOADS: tuple[tuple[str, str], ...] = (
    ("<img src=x onerror=__pwned=1;alert(1)>", "<img"),
    ("<script>__pwned=1;alert(1)</script>", "<script"),
    ('"><svg/onload=__pwned=1;alert(1)>', "<svg"),
    ("[a](javascript:alert(1)) <b>b</b>", "<b>"),
)
# A plain word: if the page shows it (e.g. as a token label), the page shows what is typed, so markup must show too.
PROBE = "zqxprobe"

BOXES_JS = """() => [...document.querySelectorAll(
    "[data-testid='stTextInput'] input, [data-testid='stTextArea'] textarea")].map((el, index) => {
  const holder = el.closest("[class*='st-key-']");
  const key = holder ? [...holder.classList].find(c => c.startsWith('st-key-')) : null;
  return {index, key, area: el.tagName === 'TEXTAREA', form: !!el.closest("[data-testid='stForm']"),
          sidebar: !!el.closest("[data-testid='stSidebar']")};
})"""

# Everything a payload could have injected into the DOM (main document and same-origin frames).
INJECTED_JS = """() => {
  const found = [];
  const docs = [document];
  for (const f of document.querySelectorAll('iframe')) { try { if (f.contentDocument) docs.push(f.contentDocument); } catch (e) {} }
  for (const doc of docs) {
    for (const el of doc.querySelectorAll("img[src='x'], svg[onload], [onerror], [onload]"))
      found.push(el.outerHTML.slice(0, 200));
    for (const el of doc.querySelectorAll('script'))
      if (el.textContent.includes('__pwned')) found.push(el.outerHTML.slice(0, 200));
    for (const el of doc.querySelectorAll("a[href^='javascript:' i], iframe[src^='javascript:' i]"))
      found.push(el.outerHTML.slice(0, 200));
    for (const el of doc.querySelectorAll('*'))
      for (const a of el.attributes)
        if (a.name.startsWith('on') && a.value.includes('__pwned')) found.push(el.outerHTML.slice(0, 200));
  }
  return [...new Set(found)];
}"""

# Reveals a box hidden in a not-selected tab (outermost tabs first) or a closed expander.
REVEAL_JS = """async el => {
  const tabsChain = [];
  for (let n = el.parentElement; n; n = n.parentElement) if (n.matches("[data-testid='stTabs']")) tabsChain.unshift(n);
  for (const tabs of tabsChain) {
    const panel = [...tabs.querySelectorAll("[data-testid='stTabPanel']")].find(p => p.contains(el));
    const own = [...tabs.querySelectorAll("[data-testid='stTab']")].filter(t => t.closest("[data-testid='stTabs']") === tabs);
    for (const tab of own) {
      if (panel && panel.checkVisibility()) break;
      tab.click();
      await new Promise(r => setTimeout(r, 50));
    }
  }
  for (let n = el.closest('details:not([open])'); n; n = n.parentElement && n.parentElement.closest('details:not([open])'))
    n.querySelector('summary').click();
}"""

ALERT = "[data-testid='stMain'] [data-testid='stAlert']"


class ScriptRuns:
    """Watches the app's websocket: a full script run has finished when the server sends `script_finished`
    (FINISHED_SUCCESSFULLY; a run cut short for a rerun sends another status and is followed by the new run)."""

    def __init__(self, page):
        self.socket = None
        page.on("websocket", self._on_socket)

    def _on_socket(self, socket) -> None:
        if "_stcore/stream" in socket.url:
            self.socket = socket

    @staticmethod
    def _finished(payload) -> bool:
        if not isinstance(payload, bytes):
            return False
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except Exception:  # not a ForwardMsg: not the end of a run
            return False
        return msg.WhichOneof("type") == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY

    def rerun_after(self, action, page) -> None:
        """Do `action` (which triggers a rerun) and wait until that run has finished and the page has drawn it."""
        assert self.socket is not None, "the app's websocket is not open"
        with self.socket.expect_event("framereceived", predicate=self._finished, timeout=TIMEOUT_MS):
            action()
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _open(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = ConsoleLog(page)
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    runs = ScriptRuns(page)
    page.goto(url)
    return context, page, log, dialogs, runs


def _box(page, box):
    fields = page.locator("[data-testid='stTextInput'] input, [data-testid='stTextArea'] textarea")
    if box["key"]:
        holder = page.locator(f".{box['key']}")
        return holder.locator("input, textarea").first
    return fields.nth(box["index"])


def _alerts(page) -> list[str]:
    """The messages (st.info/success/warning/error) shown in the main area, as text."""
    return page.locator(ALERT).all_inner_texts()


def _main_text(page) -> str:
    """Text of the main area: text nodes only (input values are not text), SVG text (Plotly labels) included."""
    return page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").textContent")


@pytest.fixture(scope="module")
def warm_app(browser, app_url):
    """One visit to the home page first: a fresh server's first run is slow, and this file may run on its own."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(app_url)
        wait_for_app(page, TIMEOUT_MS)
        page.wait_for_selector("h1:has-text('Attention Lab')", timeout=TIMEOUT_MS)
    finally:
        context.close()
    return app_url


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_hostile_text_shows_as_text_and_never_runs(browser, warm_app, entry):
    context, page, log, dialogs, runs = _open(browser, f"{warm_app}/{entry.slug}")
    try:
        # The page has run: its title is drawn and the script is idle (a chart, where the page draws one first).
        page.wait_for_selector(f"h1:has-text({entry.title!r})", timeout=TIMEOUT_MS)
        page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=TIMEOUT_MS)
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        boxes = page.evaluate(BOXES_JS)
        if not boxes:
            pytest.skip(f"{entry.slug} shows no text box")
        baseline, baseline_text = _alerts(page), _main_text(page)  # what the page shows with its default inputs
        for box in boxes:
            field = _box(page, box)
            field.evaluate(REVEAL_JS)
            field.wait_for(state="visible", timeout=TIMEOUT_MS)
            key = "Control+Enter" if box["area"] else "Enter"  # Enter also submits a form
            limit = int(field.get_attribute("maxlength") or 0) or None
            default = field.input_value()
            echoes = False
            if not box["form"]:
                field.fill(PROBE[:limit])
                runs.rerun_after(partial(field.press, key), page)
                echoes = PROBE[:limit] in _main_text(page)
            for payload, shown_as in PAYLOADS:
                typed = payload[:limit]
                where = f"{entry.slug}, box {box['key'] or box['index']} <- {typed!r}"
                field = _box(page, box)
                field.evaluate(REVEAL_JS)
                field.fill(typed)
                runs.rerun_after(partial(field.press, key), page)

                assert page.evaluate("() => window.__pwned") is None, f"a script ran: {where}"
                assert not dialogs, f"a dialog opened: {dialogs} ({where})"
                injected = page.evaluate(INJECTED_JS)
                assert not injected, f"markup was injected: {injected} ({where})"
                assert not page.locator("[data-testid='stException']").count(), f"a traceback is shown: {where}"
                messages = [m for m in _alerts(page) if m not in baseline]
                if box["form"]:
                    # A quiz box: markup is not a number, so the form says what to type.
                    assert messages, f"no message for an answer that is not a number: {where}"
                elif echoes and shown_as in typed:
                    # The page shows what is typed: it shows the markup as text, or says why it cannot use it.
                    shown = _main_text(page).count(shown_as) > baseline_text.count(shown_as)
                    assert messages or shown, f"no message and the text is not shown: {where}"
            if not box["form"]:  # back to the default, so the next box starts from the page's usual state
                field = _box(page, box)
                field.evaluate(REVEAL_JS)
                field.fill(default)
                runs.rerun_after(partial(field.press, key), page)
        assert not log.errors, log.errors
    finally:
        context.close()
