"""What the browser benchmarks share: Debian's Chromium, and an in-page probe that timestamps the app's runs.

`OBSERVER_JS` is installed with `context.add_init_script` before Streamlit's own code loads. It records, on the page's
clock (`performance.now()`, ms since the navigation started), every change of `[data-testid='stApp']`'s
`data-test-script-state` (a MutationObserver, so no change is missed however short the run) and the last keydown.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.browser.conftest import CHROMIUM

CHART_SVG = "[data-testid='stMain'] [data-testid='stPlotlyChart'] .main-svg"

OBSERVER_JS = """
window.__bench = {events: [], keydown: null};
document.addEventListener('keydown', () => { window.__bench.keydown = performance.now(); }, true);
new MutationObserver((mutations) => {
  const now = performance.now();
  for (const m of mutations) {
    if (m.target.getAttribute && m.target.getAttribute('data-testid') === 'stApp') {
      window.__bench.events.push([now, m.target.getAttribute('data-test-script-state')]);
    }
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
"""

# After event index `start`: the time the app went through a run (any state but notRunning) back to notRunning, and
# (with `chart`) the page shows a drawn chart; false until then. Returns [last keydown, run finished, now].
RUN_DONE_JS = """
({start, chart}) => {
  const ev = window.__bench.events;
  let busy = false;
  for (let i = start; i < ev.length; i++) {
    if (ev[i][1] !== 'notRunning') busy = true;
    else if (busy) {
      if (!document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']")) return false;
      if (chart && !document.querySelector(CHART)) return false;
      return [window.__bench.keydown, ev[i][0], performance.now()];
    }
  }
  return false;
}
""".replace("CHART", repr(CHART_SVG))


def chromium_path() -> str:
    """Debian's Chromium: `$CHROMIUM_PATH`, /usr/bin/chromium, or `chromium` on the PATH (as the browser tests)."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    return exe
