"""Every registered page in a real Chromium: loads, its charts are visible, the console has no errors."""

from __future__ import annotations

import pytest

from course.registry import PAGES
from tests.browser.conftest import ConsoleLog, wait_for_app


def _open(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = ConsoleLog(page)
    page.goto(url)
    wait_for_app(page)
    return context, page, log


def test_home_page_lists_the_course(browser, app_url):
    context, page, log = _open(browser, app_url)
    try:
        page.wait_for_selector("h1:has-text('Attention Lab')", timeout=60_000)
        links = page.locator("[data-testid='stMain'] [data-testid='stPageLink']")
        links.nth(len(PAGES)).wait_for(state="visible", timeout=60_000)  # "start here" + one per page
        assert links.count() >= len(PAGES) + 1
        assert page.locator("[data-testid='stSidebarNav']").is_visible()
        assert not page.locator("[data-testid='stException']").count()
        assert not log.errors, log.errors
    finally:
        context.close()


@pytest.mark.parametrize("entry", PAGES, ids=[p.slug for p in PAGES])
def test_page_loads_with_visible_chart(browser, app_url, entry):
    context, page, log = _open(browser, f"{app_url}/{entry.slug}")
    try:
        chart = page.locator("[data-testid='stPlotlyChart']").first
        chart.wait_for(state="visible", timeout=120_000)
        # Plotly has drawn: an SVG main layer exists inside the chart.
        page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=60_000)
        assert not page.locator("[data-testid='stException']").count(), "the page shows a traceback"
        assert not log.errors, log.errors
    finally:
        context.close()
