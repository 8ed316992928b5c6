"""The Train it yourself page's Stop button, in a real Chromium: a run stopped mid-way keeps its steps in the
session, says where it stopped and offers Continue; Continue resumes from there."""

from __future__ import annotations

import re

import pytest

from course.registry import PAGES
from tests.browser.conftest import wait_for_app
from tests.browser.streamlit_ui import TIMEOUT_MS, open_page, page_errors, warm_up

TRAIN = "train_it_yourself"
# A run long enough to be stopped: 3,000 steps with early stopping off (set through the page's own deep link).
LONG_RUN = f"{TRAIN}_steps=3000&{TRAIN}_early=false"


@pytest.mark.skipif(TRAIN not in {p.slug for p in PAGES}, reason=f"{TRAIN} is not registered")
def test_stop_keeps_the_run_and_continue_resumes_it(browser, app_url):
    warm_up(browser, app_url)
    context, page, log = open_page(browser, f"{app_url}/{TRAIN}?{LONG_RUN}")
    try:
        wait_for_app(page, TIMEOUT_MS)
        page.locator(f".st-key-{TRAIN}_train button").click()
        progress = page.locator("[data-testid='stProgress']")
        page.wait_for_function(  # training is under way: the progress bar reports a step past the first
            """() => /step ([1-9]\\d*)\\/3000/.test(document.querySelector("[data-testid='stProgress']")?.innerText ?? '')""",
            timeout=TIMEOUT_MS,
        )
        assert progress.count() == 1
        page.locator(f".st-key-{TRAIN}_stop button:visible").first.click()  # a run may keep a hidden stale copy
        status = page.get_by_text(re.compile(r"stopped at step \d+ of 3000"))
        status.wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page, TIMEOUT_MS)
        stopped_at = int(re.search(r"stopped at step (\d+)", status.inner_text()).group(1))
        assert 0 < stopped_at < 3000
        continue_button = page.locator(f".st-key-{TRAIN}_continue button:visible").first
        assert continue_button.is_visible()

        continue_button.click()  # resumes from the step it stopped at, then stop again
        page.wait_for_function(
            """n => { const m = /step (\\d+)\\/3000/.exec(document.querySelector("[data-testid='stProgress']")?.innerText ?? '');
                     return m && Number(m[1]) > n; }""",
            arg=stopped_at,
            timeout=TIMEOUT_MS,
        )
        page.locator(f".st-key-{TRAIN}_stop button:visible").first.click()  # a run may keep a hidden stale copy
        again = page.get_by_text(re.compile(r"stopped at step \d+ of 3000"))
        again.wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page, TIMEOUT_MS)
        assert int(re.search(r"stopped at step (\d+)", again.inner_text()).group(1)) > stopped_at
        assert not page_errors(page) and not log.errors, (page_errors(page), log.errors)
    finally:
        context.close()
