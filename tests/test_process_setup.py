"""The server process setup (`ui.process_setup`): the course map's first script run imports no torch; the background
warm-up then sets torch's threads, imports every course module and freezes them out of full collections, while later
garbage is still collected; a course page opened first, by a link, waits for it and renders.

Each probe runs in a fresh interpreter: the warm-up and the freeze happen once per process, and this one may have
done both already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from course.registry import page_by_slug

ROOT = Path(__file__).resolve().parents[1]
THREADS = 3  # ATTENTION_LAB_THREADS for the probe: neither the default (half the cores) nor torch's own choice

# The warm-up is held at a gate while the map runs, so whatever the first run imports, it imported itself.
MAP_THEN_WARM_UP = r"""
import gc, json, sys, threading, weakref
import ui.process_setup as setup

gate = threading.Event()
real_prepare_core = setup.prepare_core

def gated_prepare_core():
    gate.wait()
    return real_prepare_core()

setup.prepare_core = gated_prepare_core  # what the warm-up thread calls

from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=170)
at.run()  # a fresh server's first script run: the course map
first_run = {
    "title": at.title[0].value if at.title else "",
    "exceptions": [str(e.value) for e in at.exception],
    "torch": "torch" in sys.modules,
    "core_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("core", "figures")),
    "sidebar": [c.value for c in at.sidebar.caption],
    "warm_up_started": any(t.name == setup.WARM_UP_THREAD_NAME for t in threading.enumerate()),
    "ready": setup.core_is_ready(),
}

gate.set()
setup.wait_for_core()
thread = setup.start_core_warm_up()
frozen = gc.get_freeze_count()
gc.collect()
after = len(gc.get_objects())  # what a full collection walks now
setup.wait_for_core()  # a second wait (a second course page) changes nothing
again = gc.get_freeze_count() - frozen

import torch
threads_seen = []
fresh = threading.Thread(target=lambda: threads_seen.append(torch.get_num_threads()))  # never ran a torch op
fresh.start(); fresh.join()
from core.models import DecoderConfig, DecoderOnlyModel
with torch.device("meta"):  # what the lessons' parameter counts do
    DecoderOnlyModel(DecoderConfig(vocab_size=32, d_model=32, n_heads=4, n_layers=2, d_ff=64))
gc.collect()
after_meta = len(gc.get_objects())

class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle: only the cycle collector frees it
alive = weakref.ref(a)
del a, b
gc.collect(2)
at.run()  # the map again, with the core loaded: the device box and the detected device
print(json.dumps({
    "first_run": first_run, "frozen": frozen, "after": after, "again": again, "after_meta": after_meta,
    "thread_done": not thread.is_alive(), "threads_seen": threads_seen, "cycle_collected": alive() is None,
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in setup.COURSE_PACKAGES),
    "sidebar_loaded": [c.value for c in at.sidebar.caption],
    "device_box": [s.label for s in at.sidebar.selectbox],
}))
"""

# A learner whose first request is a course page's link, to a server that has loaded nothing yet.
LINKED_PAGE_FIRST = r"""
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=170)
at.query_params["multi_head_heads"] = "2"
at.switch_page(MODULE)
at.run()
print(json.dumps({
    "exceptions": [str(e.value) for e in at.exception],
    "charts": [el.proto.spec for el in at.get("plotly_chart")],
    "heads": at.slider(key="multi_head_heads").value,
}))
"""


def _run_probe(code: str) -> dict:
    env = {**os.environ, "ATTENTION_LAB_THREADS": str(THREADS)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_map_paints_without_torch_then_the_warm_up_imports_every_course_module_and_freezes_once():
    result = _run_probe(MAP_THEN_WARM_UP)
    first = result["first_run"]
    assert first["title"].startswith("🔦 Attention Lab") and not first["exceptions"], first
    assert not first["torch"], "the course map's first run imported torch"
    assert not first["core_modules"], first["core_modules"]
    assert first["warm_up_started"] and not first["ready"]
    assert any("detecting" in caption for caption in first["sidebar"]), first["sidebar"]

    on_disk = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("core", "figures", "ui", "course")
        for path in (ROOT / package).rglob("*.py")
    }
    assert on_disk <= set(result["modules"]), sorted(on_disk - set(result["modules"]))
    assert result["thread_done"]
    assert result["threads_seen"] == [THREADS]  # ATTENTION_LAB_THREADS, process-wide: a new thread starts with it
    # torch, Plotly, Streamlit ... are in the permanent generation: a full collection walks far fewer objects
    assert result["frozen"] > 100_000 and result["after"] < result["frozen"] // 100, result
    assert result["after_meta"] < result["frozen"] // 100, result  # torch's lazy imports for meta ops came first
    assert result["again"] == 0  # once per process
    assert result["cycle_collected"]  # garbage made after the freeze is collected as before
    assert result["device_box"] == ["Compute device"], result["device_box"]
    assert any(caption.startswith("Running on:") for caption in result["sidebar_loaded"]), result["sidebar_loaded"]


def test_a_course_page_opened_first_by_link_waits_for_the_core_and_renders():
    module = page_by_slug("multi_head").module
    result = _run_probe(f"MODULE = {module!r}\n{LINKED_PAGE_FIRST}")
    assert not result["exceptions"], result["exceptions"]
    assert result["heads"] == 2  # the link's value
    assert result["charts"] and all(json.loads(spec)["data"] for spec in result["charts"])


LATE_IMPORT = r"""
import gc, json, sys, weakref
import ui.process_setup as setup
setup.start_core_warm_up(); setup.wait_for_core()
from tests.apptest_utils import open_page
at = open_page(MODULE)  # the digits page: its first run imports scikit-learn
gc.collect()
walked = len(gc.get_objects())  # what every later full collection walks

class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "sklearn": "sklearn" in sys.modules,
                  "walked": walked, "cycle_collected": gone() is None}))
"""


def test_the_digits_page_late_import_is_frozen_too():
    """scikit-learn, imported when the digits page first opens, adds ~58,000 objects (+~21 ms to every later full
    collection) unless frozen like the startup imports (ui.gc_tuning.freeze_late_imports)."""
    result = _run_probe(f"MODULE = {page_by_slug('vision_transformer').module!r}\n{LATE_IMPORT}")
    assert not result["exceptions"], result["exceptions"]
    assert result["sklearn"]
    assert result["walked"] < 20_000, result
    assert result["cycle_collected"]


GATE = r"""
import json, threading
import ui.process_setup as setup

importing, release = threading.Event(), threading.Event()

def slow_prepare_core():  # stands in for the imports: holds "importing" until released
    importing.set()
    release.wait()
    return 0

setup.prepare_core = slow_prepare_core
ran = []
before = setup.outside_core_imports(lambda: ran.append("before"))  # the warm-up has not begun: runs at once
waiter = threading.Thread(target=setup.wait_for_core)  # a course page asks for the core: the imports begin
waiter.start()
importing.wait(30)
during = setup.outside_core_imports(lambda: ran.append("during"))  # a map drawn meanwhile: left out
release.set()
waiter.join(30)
after = setup.outside_core_imports(lambda: ran.append("after"))
print(json.dumps({"before": before, "during": during, "after": after, "ran": ran}))
"""


def test_a_map_chart_is_never_drawn_while_the_core_is_being_imported():
    """Plotly's encoder fails on half-imported numpy/pandas: the map's preload chart waits for no import, but is
    left out of a map run during one (ui.process_setup.outside_core_imports)."""
    result = _run_probe(GATE)
    assert result == {"before": True, "during": False, "after": True, "ran": ["before", "after"]}
