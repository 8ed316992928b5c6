"""Keep Python's full garbage collections short in a long-running, many-session server process."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Move every object alive now to the garbage collector's permanent generation, once per process.

    Streamlit runs a full ``gc.collect(2)`` after every script run (its ``runner.postScriptGC`` option, on by
    default). A full collection walks every tracked container object in the process: once torch, Streamlit, Plotly
    and pandas are imported that is ~300,000 objects, 130–250 ms per rerun on a 2-core CPU, more than the pages' own
    work (measured with ``python -m bench.bench_pages``). Imported modules live as long as the process, so walking
    them finds nothing: after ``gc.freeze()`` collections skip them. Objects made later (a session's tensors, its
    figures, cached results) are collected exactly as before. A collection first clears what is already garbage,
    so nothing collectable is frozen.

    Call it after the heavy imports. Returns how many objects were frozen by this call (0 when already done).
    """
    if gc.get_freeze_count():
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_late_imports() -> int:
    """Freeze again after a heavy module was imported on first use, after the startup freeze.

    The digits page imports scikit-learn only when it is opened (~1 s): ~58,000 new objects that every later full
    collection would walk, ~21 ms added to every rerun of every page for the rest of the process. A collection runs
    first, so nothing collectable is frozen; objects alive now (other sessions') are frozen with the module, which
    costs nothing: reference counting still frees them, only cycles among them would wait for the process to end.
    Returns how many objects this call froze.
    """
    gc.collect()
    before = gc.get_freeze_count()
    gc.freeze()
    return gc.get_freeze_count() - before
