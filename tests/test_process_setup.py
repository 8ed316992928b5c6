"""The server process setup: every course module imported, then frozen out of full collections; later garbage
is still collected. Runs in a fresh interpreter (freezing is per process, and this one may be frozen already)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import gc, json, sys, weakref
from ui.process_setup import COURSE_PACKAGES, import_course_modules, prepare_server_process
import_course_modules()
gc.collect()
before = len(gc.get_objects())  # what a full collection walks with torch, Plotly, Streamlit and the course loaded
frozen = prepare_server_process()
after = len(gc.get_objects())
again = prepare_server_process()
import torch
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
print(json.dumps({
    "before": before, "frozen": frozen, "after": after, "again": again, "after_meta": after_meta,
    "cycle_collected": alive() is None,
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in COURSE_PACKAGES),
}))
"""


def _run_probe() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_prepare_imports_every_course_module_and_freezes_once():
    result = _run_probe()
    on_disk = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("core", "figures", "ui", "course")
        for path in (ROOT / package).rglob("*.py")
    }
    assert on_disk <= set(result["modules"]), sorted(on_disk - set(result["modules"]))
    # torch, Plotly, Streamlit ... are now in the permanent generation: a full collection walks far fewer objects
    assert result["before"] > 100_000 and result["frozen"] > 0.99 * result["before"], result
    assert result["after"] < result["before"] // 100, result
    assert result["after_meta"] < result["before"] // 100, result  # torch's lazy imports for meta ops came first
    assert result["again"] == 0  # once per process
    assert result["cycle_collected"]  # garbage made after the freeze is collected as before
