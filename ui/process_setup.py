"""Prepare the long-lived `streamlit run` process once, in the background: torch's threads, every course module
imported, then everything alive frozen out of the garbage collector's full collections.

The course map needs no torch, so the first script run only starts :func:`start_core_warm_up` and paints the map at
once (`import torch` alone takes ~2 s on the 2-core CPU). While the learner reads it, a daemon thread (after a short
delay, so as not to slow the map's own delivery) configures torch's CPU threads, imports every module of the course
(and so torch, numpy, pandas, matplotlib), runs one meta-device op (torch's lazily imported compiler modules) and
then :func:`ui.gc_tuning.freeze_startup_objects`: the full garbage collection Streamlit runs after every rerun skips
those ~400,000 objects from then on. A page that
needs the core calls :func:`wait_for_core` first (``app.py`` does, under a spinner), so no script computes with
torch before its threads are set or imports a course module half-way through the warm-up's import of it.

Nothing here imports torch at module level: ``app.py`` imports this module on the map's first paint path.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable

from ui.gc_tuning import freeze_startup_objects

COURSE_PACKAGES = ("core", "figures", "ui", "course")
WARM_UP_THREAD_NAME = "attention-lab-core-warm-up"
# The warm-up holds the GIL for long stretches (loading torch's shared libraries) and keeps a core busy: started at
# once, it slowed the map's own first run, the websocket and the lazily loaded frontend files the browser fetches to
# draw the map. So it first waits this long, unless a course page asks for the core sooner (`wait_for_core`).
WARM_UP_DELAY_S = 1.5

_log = logging.getLogger(__name__)


def import_course_modules(packages: tuple[str, ...] = COURSE_PACKAGES) -> list[str]:
    """Import every module of ``packages`` (and so every library they import). Returns the module names."""
    names = []
    for package in packages:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


def import_torch_lazy_modules() -> None:
    """Run one op on the ``meta`` device, as the parameter counts and shape checks do (core.measure.kv_cache_math,
    core.lab.residual, course.live_numbers): torch runs meta ops through its Python reference kernels, which import
    torch._dynamo and sympy (~830 modules, ~1.5 s) the first time."""
    import torch

    with torch.device("meta"):
        torch.ones(2, 2) / 2.0  # (2, 2) on meta: no memory


def prepare_core() -> int:
    """The warm-up's work, in this order: torch's CPU threads (before any torch compute, the imports included), every
    course module, torch's lazy modules, then the freeze. Returns the number of objects frozen (0 if already done)."""
    from core.kernels.flash_attention import interpret_without_gpu
    from core.measure.device import configure_threads  # the first `import torch` of the process

    configure_threads()
    interpret_without_gpu()  # before torch._dynamo imports Triton: without a GPU, its kernels run interpreted
    import_course_modules()
    import_torch_lazy_modules()
    return freeze_startup_objects()


class _CoreWarmUp:
    """One background run of :func:`prepare_core` per process; waiters block until it has finished."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._go = threading.Event()  # begin now, without waiting out WARM_UP_DELAY_S
        self._gate = threading.Lock()  # held by work that must not overlap the imports (outside_core_imports)
        self._begun = False
        self.error: BaseException | None = None

    def start(self) -> threading.Thread:
        """Start the warm-up thread unless it was started before (any thread may call this, any number of times)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=WARM_UP_THREAD_NAME, daemon=True)
                self._thread.start()
            return self._thread

    def _run(self) -> None:
        self._go.wait(timeout=WARM_UP_DELAY_S)  # let the map reach the browser first
        with self._gate:
            self._begun = True
        try:
            frozen = prepare_core()
            _log.info("Attention Lab: transformer core loaded, %d objects frozen", frozen)
        except BaseException as exc:  # noqa: BLE001 — handed to every waiter, so a page shows it instead of hanging
            _log.exception("Attention Lab: loading the transformer core failed")
            self.error = exc
        finally:
            self._done.set()

    def ready(self) -> bool:
        """True once the warm-up has finished (successfully or not)."""
        return self._done.is_set()

    def outside_imports(self, work: Callable[[], None]) -> bool:
        """Run ``work`` unless the imports are under way (then False, nothing run); before they begin, they wait for
        it."""
        with self._gate:
            if self._begun and not self._done.is_set():
                return False
            work()
        return True

    def wait(self) -> None:
        """Start the warm-up if needed (now: no delay) and block until it has finished; re-raise its error, if any."""
        self.start()
        self._go.set()
        self._done.wait()
        if self.error is not None:
            raise RuntimeError("loading the transformer core failed (see the server log)") from self.error


_WARM_UP = _CoreWarmUp()


def start_core_warm_up() -> threading.Thread:
    """Once per process: start loading the core in a daemon thread, WARM_UP_DELAY_S from now (sooner if a page waits
    for it). Returns at once, with that thread."""
    return _WARM_UP.start()


def outside_core_imports(work: Callable[[], None]) -> bool:
    """Run ``work`` now unless the warm-up is importing the core; returns whether it ran.

    While another thread imports numpy or pandas, they are half-initialised in ``sys.modules``, and Plotly's JSON
    encoder, which checks values against them, fails ("partially initialized module 'numpy' has no attribute
    'ndarray'"): a chart drawn on the course map (no core needed) must not be sent then. Before the imports begin,
    ``work`` runs at once (the warm-up waits for it); after they finished, too."""
    _WARM_UP.start()
    return _WARM_UP.outside_imports(work)


def core_is_ready() -> bool:
    """Whether the warm-up has finished: torch and every course module imported, then frozen."""
    return _WARM_UP.ready()


def wait_for_core() -> None:
    """Block until the core is loaded (starting the warm-up if nobody has yet), then set this thread's torch threads.

    Call it before a script touches torch or any course module beyond ``course.registry``. Torch keeps the intra-op
    thread count per thread, read from the process-wide value when a thread first runs an op; setting it here too
    keeps ``ATTENTION_LAB_THREADS`` exact in every script thread."""
    _WARM_UP.wait()
    from core.measure.device import configure_threads  # imported by the warm-up: no cost

    configure_threads()
