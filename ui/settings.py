"""Global settings shared by every page: compute device, random seed, memory budget.

Rendered once in the sidebar by `app.py` (widgets in the entry script persist across page switches) and read by
pages through `get_settings()`. Values live in `st.session_state`, so every browser session has its own.

Torch is imported only where a device is resolved (inside the functions): the course map draws this sidebar on its
first paint, while the core still loads in the background (`ui.process_setup`), and then says "detecting…".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ui.deeplink import restore_from_url
from ui.process_setup import core_is_ready

if TYPE_CHECKING:
    import torch

SETTINGS_PREFIX = "settings_"
DEVICE_KEY = "settings_device"
SEED_KEY = "settings_seed"
BUDGET_KEY = "settings_memory_budget_mib"
DEFAULT_SEED = 0
DEFAULT_BUDGET_MIB = 1024


@dataclass(frozen=True)
class Settings:
    """What every page needs to know about the learner's choices."""

    device: torch.device
    seed: int
    memory_budget_bytes: int

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded with the global seed (+ offset, so two draws on one page differ)."""
        import torch

        return torch.Generator().manual_seed(self.seed + offset)


def _persistent_widget(widget, label: str, key: str, default, **kwargs):
    """Draw `widget` bound to the persistent state `key`.

    Streamlit forgets a widget's state when the page changes; plain session-state keys survive. So the value lives
    in `key` and the widget (key `_w_<key>`) is re-seeded from it on every run and copies changes back.
    """
    st.session_state.setdefault(key, default)
    widget_key = f"_w_{key}"
    st.session_state[widget_key] = st.session_state[key]
    return widget(label, key=widget_key, on_change=_copy_back, args=(widget_key, key), **kwargs)


def _copy_back(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def _render_device_choice() -> None:
    """The compute-device box and the detected device's name; "detecting…" while torch is still being imported.

    The choices depend on ``torch.cuda.is_available()``, so until the core is loaded no box is drawn: the session's
    choice (a link's included) waits in session state and is checked against the real choices on the next run."""
    if not core_is_ready():
        st.caption("Compute device: **detecting…** (the transformer core is loading)")
        return
    from core.measure.device import available_devices, device_label, resolve_device

    if st.session_state.get(DEVICE_KEY) not in available_devices():
        st.session_state.pop(DEVICE_KEY, None)  # e.g. a link made on a GPU machine, opened on a CPU-only one
    choice = _persistent_widget(
        st.selectbox, "Compute device", DEVICE_KEY, "auto", options=available_devices(),
        help="auto = CUDA when a GPU is present, else CPU. Every figure is computed on this device.",
    )
    st.caption(f"Running on: **{device_label(resolve_device(choice))}**")


def render_settings_sidebar() -> None:
    """Draw the settings widgets in the sidebar (called once per run, by app.py)."""
    restore_from_url(SETTINGS_PREFIX)
    with st.sidebar:
        st.subheader("⚙️ Settings")
        _render_device_choice()
        _persistent_widget(
            st.number_input, "Random seed", SEED_KEY, DEFAULT_SEED, min_value=0, max_value=2**31 - 1, step=1,
            help="Seeds every random draw (inputs, initial weights) so a view is reproducible.",
        )
        _persistent_widget(
            st.number_input, "Memory budget (MiB)", BUDGET_KEY, DEFAULT_BUDGET_MIB, min_value=64, max_value=65536,
            step=64, help="Attention that would need more memory than this is refused before it allocates anything.",
        )


def get_settings() -> Settings:
    """The current session's settings (defaults before the sidebar has been drawn). Needs the core loaded."""
    from core.measure.device import resolve_device
    from core.measure.memory import MIB

    state = st.session_state
    return Settings(
        device=resolve_device(state.get(DEVICE_KEY, "auto")),
        seed=int(state.get(SEED_KEY, DEFAULT_SEED)),
        memory_budget_bytes=int(state.get(BUDGET_KEY, DEFAULT_BUDGET_MIB)) * MIB,
    )
