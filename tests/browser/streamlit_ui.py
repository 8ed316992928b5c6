"""Small Playwright helpers for driving Attention Lab's Streamlit widgets and reading its Plotly charts in Chromium.

Every keyed widget or chart sits in a container with the class ``st-key-<key>``. In the Streamlit version the app
pins, a slider's thumb is an ``<input type="range">`` (implicit ARIA role ``slider``, its value in ``value``) and a
number input is an ``<input type="number">`` that commits on Enter.
"""

from __future__ import annotations

import json

from tests.browser.conftest import READY, ConsoleLog, wait_for_app

TIMEOUT_MS = 120_000  # a cold page (torch imports, first model build) can take a minute on a busy 2-core machine

# Counts finished script runs: every switch of stApp's data-test-script-state to "notRunning" from another state.
# (A quick run can go "rerunRequested" -> "notRunning" without "running" ever being drawn, so runs are counted where
# they end, not where they start.)
_RUN_COUNTER_JS = """() => {
  if (window.__labRunsDone !== undefined) return;
  window.__labRunsDone = 0;
  new MutationObserver(records => {
    for (const r of records) {
      const now = r.target.getAttribute('data-test-script-state');
      if (now === 'notRunning' && r.oldValue !== 'notRunning') window.__labRunsDone++;
    }
  }).observe(document.body, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state'],
                             attributeOldValue: true});
}"""

# {chart key: JSON of its Plotly traces (every data array, exactly as sent) and its title}; null while not drawn.
_CHARTS_JS = """() => Object.fromEntries([...document.querySelectorAll("[data-testid='stPlotlyChart']")].map((el, i) => {
  const host = el.closest('[class*="st-key-"]');
  const cls = host && [...host.classList].find(c => c.startsWith('st-key-'));
  const plot = el.querySelector('.js-plotly-plot');
  const drawn = plot && Array.isArray(plot.data) && plot.data.length > 0 && plot.layout;
  return [cls ? cls.slice(7) : `chart${i}`,
          drawn ? JSON.stringify({data: plot.data, title: plot.layout.title}) : null];
}))"""


_WARM: set[str] = set()


def warm_up(browser, app_url: str) -> None:
    """Once per server: open the home page in a throwaway context, so the course pages open on a warm server.

    Besides the slow first imports, this keeps a known Streamlit quirk out of the tests that are not about it: the
    very first session of a fresh server that enters by a page URL gets a "Page not found" modal (see
    test_deep_links_in_chromium.py::test_first_visit_by_link_after_a_server_start_shows_no_page_not_found).
    """
    if app_url in _WARM:
        return
    context, page, _ = open_page(browser, app_url)
    try:
        wait_for_app(page, TIMEOUT_MS)
        page.wait_for_selector("h1", timeout=TIMEOUT_MS)
    finally:
        context.close()
    _WARM.add(app_url)


def open_page(browser, url: str):
    """A fresh browser context (own cookies, own Streamlit session) showing `url`, with its console collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = ConsoleLog(page)
    page.goto(url, timeout=TIMEOUT_MS)
    return context, page, log


def wait_for_charts(page, min_charts: int = 1) -> dict[str, str]:
    """Wait until the app is idle and at least `min_charts` Plotly charts are drawn; return their data (see _CHARTS_JS).

    Read twice in a row (a short poll apart) and only returned once both reads agree, so a chart Plotly is still
    redrawing is never compared.
    """
    wait_for_app(page, TIMEOUT_MS)
    page.wait_for_function(
        "n => { const c = document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\");"
        " return c.length >= n && [...c].every(p => Array.isArray(p.data) && p.data.length > 0); }",
        arg=min_charts,
        timeout=TIMEOUT_MS,
    )
    previous = None
    for _ in range(600):
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        charts = page.evaluate(_CHARTS_JS)
        if len(charts) >= min_charts and all(charts.values()) and charts == previous:
            return charts
        previous = charts
        page.wait_for_timeout(150)
    raise AssertionError(f"charts did not settle: {list(previous or {})}")


def rerun(page) -> None:
    """Rerun the session's script without changing any input (Streamlit's `r` shortcut) and wait until it ends.

    The shortcut switches the app to "rerunRequested" at once, so the end of the run is always seen as a switch
    back to "notRunning".
    """
    page.evaluate(_RUN_COUNTER_JS)
    before = page.evaluate("() => window.__labRunsDone")
    page.locator("h1").first.click()  # focus out of any input: the shortcut is ignored while typing
    page.keyboard.press("r")
    page.wait_for_function("n => window.__labRunsDone > n", arg=before, timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)


def url_param(page, key: str):
    """The JSON-decoded value of query parameter `key` in the page's current URL (None when absent)."""
    raw = page.evaluate("k => new URLSearchParams(window.location.search).get(k)", key)
    return None if raw is None else json.loads(raw)


def wait_for_url_param(page, key: str, value) -> None:
    """Wait until the URL carries `key` = `value` (as the app writes it: JSON) and the run that wrote it has ended.

    The app writes its inputs at the start of each run, so once the parameter appears a run is under way; the app
    being idle after that means the run has finished and the page shows the new view.
    """
    page.wait_for_function(
        "([k, v, ready]) => { const raw = new URLSearchParams(window.location.search).get(k);"
        " try { return raw !== null && JSON.stringify(JSON.parse(raw)) === v && !!document.querySelector(ready); }"
        " catch (e) { return false; } }",
        arg=[key, json.dumps(value, separators=(",", ":")), READY],
        timeout=TIMEOUT_MS,
    )


def slider(page, key: str):
    """The thumb of the slider with widget key `key` (an ARIA slider)."""
    return page.locator(f".st-key-{key}").get_by_role("slider")


def slider_value(page, key: str) -> str:
    """The slider's value, checked against the number drawn on its thumb."""
    value = slider(page, key).input_value()
    shown = page.locator(f".st-key-{key} [data-testid='stSliderThumbValue']").inner_text().strip()
    assert shown == value, f"slider {key}: input says {value}, thumb shows {shown}"
    return value


def press_on_slider(page, key: str, *keys: str) -> None:
    """Focus the slider's thumb and press `keys` (ArrowLeft/ArrowRight/Home/End); each press commits a value."""
    thumb = slider(page, key)
    thumb.focus()
    assert thumb.evaluate("e => e === document.activeElement"), f"slider {key} did not take the focus (a modal?)"
    for k in keys:
        page.keyboard.press(k)


def choose_radio(page, key: str, label: str) -> None:
    """Click the option labelled `label` of the radio with widget key `key` and wait for the run it starts."""
    page.locator(f".st-key-{key}").get_by_text(label, exact=True).click()
    wait_for_app(page, TIMEOUT_MS)


def number_input(page, key: str):
    return page.locator(f".st-key-{key} input[type='number']")


def set_number(page, key: str, value: int) -> None:
    box = number_input(page, key)
    box.fill(str(value))
    box.press("Enter")


def page_errors(page) -> list[str]:
    """Tracebacks and the deep-link fallback note shown on the page (an empty list on a healthy page)."""
    shown = page.locator("[data-testid='stException']").all_inner_texts()
    notes = [
        t
        for t in page.locator("[data-testid='stAlert']").all_inner_texts()
        if "do not fit this page" in t or "Session State API" in t
    ]
    return shown + notes
