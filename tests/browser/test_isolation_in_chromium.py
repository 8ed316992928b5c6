"""Sessions are isolated in a real browser: two contexts open at once each keep their own settings and results.

1. Two contexts on the multi-head page pick different seeds; each one's charts stay its own after the other reruns.
2. Context A trains a tiny model while context B shows the model explorer; B's view (charts, model list) does not
   change, while A's own explorer does offer the model A trained.
"""

from __future__ import annotations

import pytest

from course.registry import PAGES
from tests.browser.streamlit_ui import (
    TIMEOUT_MS,
    choose_radio,
    number_input,
    open_page,
    page_errors,
    rerun,
    set_number,
    slider_value,
    wait_for_charts,
    wait_for_url_param,
    warm_up,
)
from ui.inputs import SOURCE_LABELS
from ui.settings import SEED_KEY

SLUGS = {p.slug for p in PAGES}
SEED_WIDGET = f"_w_{SEED_KEY}"
MHA = "multi_head"
TRAIN = "train_it_yourself"
EXPLORER = "model_explorer"
# The smallest run the training page offers: 1 layer, d_model 16, 50 steps (set through the page's own deep link).
TINY_RUN = f"{TRAIN}_layers=1&{TRAIN}_d_model=16&{TRAIN}_steps=50"
# The explorer opens on an English model; its task-model source (where a trained model is listed) by deep link:
TASK_MODELS = f"{EXPLORER}_mode=%22model%22"
TASK_SOURCE = SOURCE_LABELS["model"]


def _close(*contexts) -> None:
    for context in contexts:
        context.close()


def _picker(page, key: str) -> tuple[str, list[str]]:
    """(shown value, every option) of the selectbox with widget key `key`."""
    box = page.locator(f".st-key-{key} input[role='combobox']")
    shown = box.input_value()
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for(state="visible", timeout=TIMEOUT_MS)
    texts = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    page.get_by_role("listbox").wait_for(state="hidden", timeout=TIMEOUT_MS)
    return shown, texts


@pytest.mark.skipif(MHA not in SLUGS, reason=f"{MHA} is not registered")
def test_two_contexts_with_different_seeds_keep_their_own_charts(browser, app_url):
    warm_up(browser, app_url)
    ctx_a, page_a, log_a = open_page(browser, f"{app_url}/{MHA}")
    ctx_b, page_b, log_b = open_page(browser, f"{app_url}/{MHA}")  # both open at once, each its own session
    try:
        start_a, start_b = wait_for_charts(page_a, 4), wait_for_charts(page_b, 4)
        assert start_a == start_b, "the same defaults should draw the same charts in both contexts"

        set_number(page_a, SEED_WIDGET, 5)
        wait_for_url_param(page_a, SEED_KEY, 5)
        seed5_a = wait_for_charts(page_a, 4)
        assert seed5_a != start_a, "seed 5 should redraw the charts"
        assert wait_for_charts(page_b, 4) == start_b and number_input(page_b, SEED_WIDGET).input_value() == "0"

        set_number(page_b, SEED_WIDGET, 9)
        wait_for_url_param(page_b, SEED_KEY, 9)
        seed9_b = wait_for_charts(page_b, 4)
        assert seed9_b != start_b and seed9_b != seed5_a

        rerun(page_a)  # A reruns after B changed its settings: A still computes with its own seed
        assert number_input(page_a, SEED_WIDGET).input_value() == "5"
        assert wait_for_charts(page_a, 4) == seed5_a
        rerun(page_b)
        assert number_input(page_b, SEED_WIDGET).input_value() == "9"
        assert wait_for_charts(page_b, 4) == seed9_b

        assert not page_errors(page_a) and not page_errors(page_b), page_errors(page_a) + page_errors(page_b)
        assert not log_a.errors and not log_b.errors, log_a.errors + log_b.errors
    finally:
        _close(ctx_a, ctx_b)


@pytest.mark.skipif(not {TRAIN, EXPLORER} <= SLUGS, reason="the training pages are not registered")
def test_training_in_one_context_never_changes_what_another_sees(browser, app_url):
    warm_up(browser, app_url)
    ctx_a, page_a, log_a = open_page(browser, f"{app_url}/{TRAIN}?{TINY_RUN}")
    ctx_b, page_b, log_b = open_page(browser, f"{app_url}/{EXPLORER}?{TASK_MODELS}")
    try:
        wait_for_charts(page_a, 1)
        assert slider_value(page_a, f"{TRAIN}_steps") == "50" and slider_value(page_a, f"{TRAIN}_layers") == "1"
        view_b = wait_for_charts(page_b, 2)
        model_b, options_b = _picker(page_b, f"{EXPLORER}_model")
        assert model_b.startswith("shipped · ") and all(o.startswith("shipped · ") for o in options_b), options_b

        page_a.locator(f".st-key-{TRAIN}_train button").click()
        rerun(page_b)  # B reruns while A is (most likely still) training
        assert wait_for_charts(page_b, 2) == view_b
        done = page_a.locator("[data-testid='stAlertContentSuccess']", has_text="run: ")
        done.wait_for(state="visible", timeout=3 * TIMEOUT_MS)  # 50 steps: seconds when idle, a minute when busy
        wait_for_charts(page_a, 2)

        # The trained model does exist, in A's session: A's explorer (same session: sidebar link, no reload) lists
        # it first and shows it.
        page_a.locator(f"[data-testid='stSidebarNav'] a[href$='/{EXPLORER}']").click()
        page_a.wait_for_function("p => window.location.pathname.endsWith(p)", arg=f"/{EXPLORER}", timeout=TIMEOUT_MS)
        choose_radio(page_a, f"{EXPLORER}_mode", TASK_SOURCE)
        view_a = wait_for_charts(page_a, 2)
        model_a, options_a = _picker(page_a, f"{EXPLORER}_model")
        assert model_a.startswith("yours · ") and options_a[0] == model_a and options_a[1:] == options_b
        assert view_a != view_b

        rerun(page_b)  # after A trained and explored its model: B's charts and model list are unchanged
        assert wait_for_charts(page_b, 2) == view_b
        assert _picker(page_b, f"{EXPLORER}_model") == (model_b, options_b)

        assert not page_errors(page_a) and not page_errors(page_b), page_errors(page_a) + page_errors(page_b)
        assert not log_a.errors and not log_b.errors, log_a.errors + log_b.errors
    finally:
        _close(ctx_a, ctx_b)
