"""Deep links in a real browser: a view changed in one browser context opens identically in another."""

from __future__ import annotations

import pytest

from course.registry import PAGES
from tests.browser.conftest import ConsoleLog, wait_for_app

MAIN_SLIDER = "section.main [data-testid='stSlider'] [role='slider'], [data-testid='stMain'] [data-testid='stSlider'] [role='slider']"


def _context_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    return context, page, ConsoleLog(page)


@pytest.mark.parametrize("entry", PAGES[:1], ids=[p.slug for p in PAGES[:1]])
def test_link_restores_slider_in_a_second_browser(browser, app_url, entry):
    ctx_a, page_a, log_a = _context_page(browser)
    ctx_b, page_b, log_b = _context_page(browser)
    try:
        page_a.goto(f"{app_url}/{entry.slug}")
        wait_for_app(page_a)
        slider = page_a.locator(MAIN_SLIDER).first
        slider.wait_for(state="visible", timeout=60_000)
        before = slider.get_attribute("aria-valuenow")
        slider.focus()
        for _ in range(3):
            page_a.keyboard.press("ArrowRight")
        page_a.wait_for_function(
            "before => document.querySelector(\"[data-testid='stMain'] [data-testid='stSlider'] [role='slider']\")"
            ".getAttribute('aria-valuenow') !== before", arg=before, timeout=30_000)
        moved = slider.get_attribute("aria-valuenow")
        page_a.wait_for_timeout(300)
        wait_for_app(page_a)
        # The widget change reruns the page, which writes its inputs into the URL.
        page_a.wait_for_function("() => window.location.search.includes('=')", timeout=30_000)
        link = page_a.url
        assert entry.slug in link

        page_b.goto(link)
        wait_for_app(page_b)
        other = page_b.locator(MAIN_SLIDER).first
        other.wait_for(state="visible", timeout=60_000)
        assert other.get_attribute("aria-valuenow") == moved != before
        assert not log_a.errors and not log_b.errors, log_a.errors + log_b.errors
    finally:
        ctx_a.close()
        ctx_b.close()
