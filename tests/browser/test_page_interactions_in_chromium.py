"""Interactions beyond a slider, in a real Chromium: the FlashAttention stepper's Next and Prev buttons move the
tiled trace one step and back (the same step draws the same tile again); the step-by-step page's English model
switches from trained to untrained weights and back."""

from __future__ import annotations

import json

import pytest

from course.registry import PAGES
from tests.browser.streamlit_ui import TIMEOUT_MS, open_page, page_errors, press_on_slider, wait_for_charts, warm_up

SLUGS = {p.slug for p in PAGES}


def _title(charts: dict[str, str], key: str) -> str:
    return json.loads(charts[key])["title"]["text"]


@pytest.mark.skipif("flash_attention" not in SLUGS, reason="flash_attention is not registered")
def test_flash_attention_next_and_prev_move_the_tile_trace(browser, app_url):
    warm_up(browser, app_url)
    context, page, log = open_page(browser, f"{app_url}/flash_attention")
    try:
        charts = wait_for_charts(page, min_charts=4)
        first = _title(charts, "flash_attention_grid")
        assert "step 1 of" in first, first
        tile_before = charts["flash_attention_tile"]
        page.locator(".st-key-flash_attention_next button").click()
        page.wait_for_function(  # the grid's title reads step 2 once the rerun has been drawn
            """() => [...document.querySelectorAll('.st-key-flash_attention_grid .js-plotly-plot')]
                     .some(p => p.layout && String(p.layout.title.text).includes('step 2 of'))""",
            timeout=TIMEOUT_MS,
        )
        charts = wait_for_charts(page, min_charts=4)
        assert charts["flash_attention_tile"] != tile_before  # the current tile's scores changed with the step
        page.locator(".st-key-flash_attention_prev button").click()
        page.wait_for_function(
            """() => [...document.querySelectorAll('.st-key-flash_attention_grid .js-plotly-plot')]
                     .some(p => p.layout && String(p.layout.title.text).includes('step 1 of'))""",
            timeout=TIMEOUT_MS,
        )
        assert wait_for_charts(page, min_charts=4)["flash_attention_tile"] == tile_before  # back where it began
        assert not page_errors(page) and not log.errors, (page_errors(page), log.errors)
    finally:
        context.close()


@pytest.mark.skipif("attention_step_by_step" not in SLUGS, reason="attention_step_by_step is not registered")
def test_step_by_step_english_weights_switch_to_the_untrained_twin_and_back(browser, app_url):
    warm_up(browser, app_url)
    context, page, log = open_page(browser, f"{app_url}/attention_step_by_step")
    try:
        key = "attention_step_by_step_weights"
        trained = wait_for_charts(page, min_charts=4)
        assert "attention_step_by_step_twins" in trained  # trained vs untrained, side by side
        for choice, same_as_trained in (("untrained", False), ("trained", True)):
            page.locator(".st-key-attention_step_by_step_english_weights label").filter(has_text=choice).first.click()
            for _ in range(100):  # the click's rerun may not have started yet: wait until the map follows it
                charts = wait_for_charts(page, min_charts=4)
                if (charts[key] == trained[key]) == same_as_trained:
                    break
                page.wait_for_timeout(200)
            assert (charts[key] == trained[key]) == same_as_trained, choice
            assert charts["attention_step_by_step_twins"] == trained["attention_step_by_step_twins"]  # both, always
        assert not page_errors(page) and not log.errors, (page_errors(page), log.errors)
    finally:
        context.close()


def _after_a_slider_press(browser, app_url, slug: str, slider_key: str, chart_key: str, title_after: str):
    """(chart before, chart after) one ArrowLeft on the slider, waiting until the chart's title reads
    ``title_after``: the chart's data and title as Plotly drew them."""
    warm_up(browser, app_url)
    context, page, log = open_page(browser, f"{app_url}/{slug}")
    try:
        before = wait_for_charts(page, min_charts=2)[chart_key]
        press_on_slider(page, slider_key, "ArrowLeft")
        page.wait_for_function(
            """([key, text]) => [...document.querySelectorAll(`.st-key-${key} .js-plotly-plot`)]
                     .some(p => p.layout && String(p.layout.title.text).includes(text))""",
            arg=[chart_key, title_after], timeout=TIMEOUT_MS,
        )  # fmt: skip
        after = wait_for_charts(page, min_charts=2)[chart_key]
        assert not page_errors(page) and not log.errors, (page_errors(page), log.errors)
        return json.loads(before), json.loads(after)
    finally:
        context.close()


@pytest.mark.skipif("fill_in_the_blank" not in SLUGS, reason="fill_in_the_blank is not registered")
def test_fill_in_the_blank_k_slider_redraws_the_guesses(browser, app_url):
    before, after = _after_a_slider_press(browser, app_url, "fill_in_the_blank", "fill_in_the_blank_k",
                                          "fill_in_the_blank_guesses", "the 9 most likely")  # fmt: skip
    assert len(before["data"][-1]["x"]) == 10 and len(after["data"][-1]["x"]) == 9


@pytest.mark.skipif("generation" not in SLUGS, reason="generation is not registered")
def test_generation_top_p_slider_redraws_the_cut(browser, app_url):
    before, after = _after_a_slider_press(browser, app_url, "generation", "generation_top_p", "generation_probs",
                                          "top-p = 0.85")  # fmt: skip
    assert "top-p = 0.9" in before["title"]["text"] and before["data"] != after["data"]


@pytest.mark.skipif("masks" not in SLUGS, reason="masks is not registered")
def test_export_panel_draws_its_buttons_when_opened_and_downloads_the_figure(browser, app_url):
    """A closed export panel holds no buttons (the page reruns without them); opening it reruns the page and draws
    them; a click downloads the chart's file."""
    warm_up(browser, app_url)
    context, page, log = open_page(browser, f"{app_url}/masks")
    try:
        wait_for_charts(page, min_charts=4)
        panel = page.locator(".st-key-masks_gallery_export")
        assert panel.count() == 1
        assert page.get_by_role("button", name="Interactive HTML").count() == 0  # closed: not drawn
        panel.locator("button").first.click()
        html = page.get_by_role("button", name="Interactive HTML")
        html.first.wait_for(state="visible", timeout=TIMEOUT_MS)
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            html.first.click()
        name = download.value.suggested_filename
        assert name.startswith("masks_gallery_") and name.endswith(".html"), name
        assert not page_errors(page) and not log.errors, (page_errors(page), log.errors)
    finally:
        context.close()
