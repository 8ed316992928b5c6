"""Memory: every page at its extreme settings stays within the memory guard's budget, measured on the process.

For each registered page (``course.registry.PAGES``, so pages added later are covered): set the sidebar's memory
budget to the smallest value the setting allows, push every widget to its extremes (the widget fuzz test's helpers)
and measure how far the process's resident memory (RSS) rises above where it stood just before. The rise must stay
within the budget plus a fixed allowance for what any rerun costs (Python objects, Plotly figures, Streamlit
protobufs), see ``ALLOWANCE_MIB``. Pages whose guard refuses at these settings must say so (a warning with the
guard's message) instead of allocating, and never show a traceback.
"""

from __future__ import annotations

import ctypes
import gc
import re
import sys
import threading
from pathlib import Path

import pytest
import streamlit as st
import torch

from core.measure.device import configure_threads
from core.measure.memory import MIB
from core.measure.memory_meter import measure_peak
from course.registry import PAGES
from tests.apptest_utils import error_messages, open_page
from tests.pages.test_fuzz_widgets import _extreme, _page_widgets, _set
from ui.settings import BUDGET_KEY

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RSS from /proc/self")

# What a rerun costs on top of the tensors a page allocates, whatever the budget: Python objects, the Plotly figures
# and their JSON, Streamlit's protobufs. Measured here (2-core Linux, torch 2.13 CPU) with this file's meter: a rerun
# at default settings with the caches cleared grows RSS by 0.2-2.3 MiB ("defaults" in the printed line; why_sqrt_dk's
# 6.8 MiB is its 6.7 MiB sweep); reruns at the extremes whose tensors are small by at most ~6 MiB (multi_head,
# efficient_variants); efficient_variants' Measure, whose largest call (full attention at n = 1,024: 49 MiB of
# tensors by core.measure.memory_meter) the guard lets through, by 56-59 MiB, i.e. ~10 MiB above its tensors. 32 MiB is three
# times that: enough not to flake, far below the ~450 MiB by which the unguarded pages (why_sqrt_dk,
# scoring_functions) overshot the budget before their guards.
ALLOWANCE_MIB = 32
REFUSAL = "more than the memory budget"  # core.measure.memory_guard's refusal message
# Pages whose guard refuses something at the smallest budget and their extreme settings: each must show the message.
REFUSING_PAGES = {"why_sqrt_dk", "scoring_functions", "quadratic_memory", "efficient_variants", "kv_cache"}
# Pushing every widget at once: all at their maximum (last option, toggles on), all at their minimum (first option,
# toggles off), and numbers at their maximum with categorical choices (select boxes, radios) at their first option,
# e.g. the widest model with float32 rather than float16.
COMBOS = {
    "all-min": lambda kind: False,
    "max-first-choice": lambda kind: kind not in ("selectbox", "radio"),
    "all-max": lambda kind: True,  # last: the page's button is pressed after it
}
# Buttons that start work, pressed after the all-max push where that work takes a few seconds at these settings.
# Not pressed (each is tested in tests/pages/test_efficiency_pages.py or test_training_pages.py at small sizes):
# quadratic_memory's Measure (the Python tile loop at n = 8,192 takes minutes), kv_cache's Measure decoding (about
# 10 s at 256 + 64 tokens) and Train (3,000 steps).
BUTTONS = {"efficient_variants": "efficient_variants_measure"}


def _status_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) / 1024


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)


@pytest.fixture(scope="module", autouse=True)
def _freed_tensors_leave_rss():
    """Make RSS follow the bytes alive. glibc serves blocks of 128 KiB and more with mmap and returns them at free,
    but after the first such free it raises that threshold (up to 32 MiB) and keeps later blocks on its heap, where
    freed space stays resident and fragments: three 16 MiB score matrices freed and allocated again in another
    order then measure up to twice their size. Pinning the threshold at its initial 128 KiB for this module makes
    the RSS peak match core.measure.memory_meter's count of live tensors; afterwards it is pinned at 32 MiB, the value the
    dynamic rule settles at, so the tests after these keep reusing heap blocks as before.

    Torch's CPU threads are set as the server sets them (``configure_threads``: half the cores): with more intra-op
    threads each one's BLAS workspace adds to the peak (measured: Measure's rise 59 MiB on 1 thread, 81-97 MiB on 2,
    the count an earlier test could leave behind)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    threads = torch.get_num_threads()
    configure_threads()
    measure_peak(torch.add, torch.ones(1), 1)  # core.measure.memory_meter's first use loads ~70 MiB of torch dispatch code
    yield
    torch.set_num_threads(threads)
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, 32 * MIB)


def _release_free_memory() -> None:
    """Collect garbage and hand free heap pages back to the OS, so the baseline is what is really in use."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


class RssPeak:
    """Peak rise of this process's RSS over a ``with`` block, in MiB, relative to the RSS just before it.

    The kernel's high-water mark (VmHWM, reset by writing 5 to /proc/self/clear_refs) sees every page that was
    resident, however briefly. Where the reset is not allowed, a thread samples VmRSS every 5 ms instead.
    """

    def __enter__(self) -> RssPeak:
        _release_free_memory()
        self.before = _status_mib("VmRSS")
        self._peak, self._stop, self._thread = self.before, threading.Event(), None
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _status_mib("VmRSS"))

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            self._peak = _status_mib("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
        self.growth_mib = max(self._peak, _status_mib("VmRSS")) - self.before


def push_widgets(at, high_for) -> None:
    """Every page widget to the extreme ``high_for(kind)`` picks; repeated while widgets appear or follow others
    (e.g. a block-size slider whose range follows n), at most three passes."""
    for attempt in range(3):
        changed = attempt == 0  # a first rerun even when nothing moves: the caches were cleared
        for kind, key, w in _page_widgets(at, None):
            value = _extreme(kind, w, high_for(kind))
            if value is not None and key is not None and not w.disabled and w.value != value:
                _set(at, kind, key, value)
                changed = True
        if not changed:
            return
        at.run()


def budget_widget(at):
    return next(w for w in at.sidebar.number_input if w.label.startswith("Memory budget"))


def guard_messages(at) -> list[str]:
    return [e.value for kind in ("warning", "error", "info") for e in at.get(kind) if REFUSAL in e.value]


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_extreme_settings_stay_within_the_smallest_budget(entry, monkeypatch):
    monkeypatch.setattr("ui.measure.MAX_REPEATS", 1)  # one timed call per measured point: the peak is per call
    st.cache_data.clear()  # results cached by earlier tests would hide the allocations measured here
    at = open_page(entry.module)
    budget = budget_widget(at)
    budget.set_value(budget.min).run()
    budget_mib = budget.min
    assert at.session_state[BUDGET_KEY] == budget_mib

    growth, refusals = {}, []
    st.cache_data.clear()
    with RssPeak() as peak:
        at.run()
    growth["defaults"] = peak.growth_mib  # for the record: what an ordinary rerun costs
    for name, high_for in COMBOS.items():
        st.cache_data.clear()  # every setting computed afresh, not served from what an earlier push cached
        with RssPeak() as peak:
            push_widgets(at, high_for)
        assert not at.exception, (name, error_messages(at))
        growth[name] = peak.growth_mib
        refusals += guard_messages(at)
        if name == "all-max" and entry.slug in BUTTONS:
            key = BUTTONS[entry.slug]
            st.cache_data.clear()
            with RssPeak() as peak:
                at.button(key=key).click().run()
            assert not at.exception, (key, error_messages(at))
            growth[key] = peak.growth_mib
            refusals += guard_messages(at)

    print(f"{entry.slug}: RSS growth (MiB) {', '.join(f'{k} {v:.1f}' for k, v in growth.items())}; "
          f"budget {budget_mib} MiB")
    assert max(growth.values()) <= budget_mib + ALLOWANCE_MIB, (growth, budget_mib)
    if entry.slug in REFUSING_PAGES:
        assert refusals, f"{entry.slug} allocated instead of showing the memory guard's refusal"


def test_the_pages_named_here_are_registered():
    slugs = {p.slug for p in PAGES}
    assert REFUSING_PAGES <= slugs and set(BUTTONS) <= slugs, (REFUSING_PAGES | set(BUTTONS)) - slugs
