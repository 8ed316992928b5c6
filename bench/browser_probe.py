"""What the browser benchmarks share: Debian's Chromium, and an in-page probe that timestamps the app's runs.

`OBSERVER_JS` is installed with `context.add_init_script` before Streamlit's own code loads. It records, on the page's
clock (`performance.now()`, ms since the navigation started), every change of `[data-testid='stApp']`'s
`data-test-script-state` (a MutationObserver), the start and end of every script run as the server's websocket
messages announce them, and the last keydown.
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

// React may batch "running" and "notRunning" into one render when a run's messages arrive together (a fast run on
// a busy machine): the attribute then never changes. So the server's messages are watched too: the top-level field
// numbers of each ForwardMsg (4 = new_session: a run starts; 6 = script_finished, with its status).
(() => {
  const topLevel = (b) => {
    const out = [];
    let i = 0;
    const varint = () => { let v = 0, mul = 1, x; do { x = b[i++]; v += (x & 0x7f) * mul; mul *= 128; }
                           while (x & 0x80 && i < b.length); return v; };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) out.push([field, varint()]);
      else if (wire === 2) { const n = varint(); out.push([field, null]); i += n; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else break;
    }
    return out;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (!(e.data instanceof ArrayBuffer)) return;
        const now = performance.now();
        for (const [field, value] of topLevel(new Uint8Array(e.data))) {
          if (field === 4) window.__bench.events.push([now, 'ws:new_session']);
          if (field === 6) window.__bench.events.push([now, 'ws:script_finished', value]);
        }
      });
    }
  };
})();
"""

FINISHED_EARLY_FOR_RERUN = 2  # ForwardMsg.ScriptFinishedStatus: the run was cut short by a newer rerun request

# After event index `start`: the first run that finished (the app's attribute went from a run state back to
# notRunning, or the server's script_finished message arrived, whichever the page saw first), once the app shows
# notRunning and (with `chart`) a drawn chart; false until then. Returns [last keydown, run finished, now, whether the
# attribute showed the run].
RUN_DONE_JS = """
({start, chart}) => {
  const ev = window.__bench.events;
  let busy = false, done = null, attribute = false;
  for (let i = start; i < ev.length; i++) {
    const state = ev[i][1];
    if (state === 'ws:script_finished') { if (done === null && ev[i][2] !== EARLY) done = ev[i][0]; }
    else if (state === 'ws:new_session') continue;
    else if (state === 'notRunning') { if (busy) { attribute = true; if (done === null) done = ev[i][0]; break; } }
    else busy = true;
  }
  if (done === null) return false;
  if (!document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']")) return false;
  if (chart && !document.querySelector(CHART)) return false;
  return [window.__bench.keydown, done, performance.now(), attribute];
}
""".replace("CHART", repr(CHART_SVG)).replace("EARLY", str(FINISHED_EARLY_FOR_RERUN))


def chromium_path() -> str:
    """Debian's Chromium: `$CHROMIUM_PATH`, /usr/bin/chromium, or `chromium` on the PATH (as the browser tests)."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    return exe
