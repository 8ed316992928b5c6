"""Progress in a real browser: kept per browser (cookie), across a reload and a server restart, movable by the
personal link, and never seen by another browser.

Browser A marks the masks lesson read and answers one of its questions; A's course map counts both. A reloads,
the server restarts, A opens the map again and then its personal link: the progress is still there. Browser B
(another context: its own cookies) sees an empty map throughout, and the address bar never carries an identity.
"""

from __future__ import annotations

import subprocess

import pytest

from course.registry import PAGES
from tests.apptest_utils import lesson_line, section_line
from tests.browser.conftest import _free_port, start_streamlit, wait_for_app, wait_healthy
from tests.browser.streamlit_ui import TIMEOUT_MS, open_page, page_errors
from ui.learner import COOKIE, LINK_PARAM

PAGE = "masks"
LESSON = "05_masks"
FOUNDATIONS_EMPTY = section_line("Foundations", 0, 0, 0)
FOUNDATIONS_DONE = section_line("Foundations", 1, 1, 1)
LESSON_DONE = lesson_line(LESSON, True, 1, 1)


@pytest.fixture
def server(progress_data_dir):
    """A `streamlit run` of its own on a free port, with this test's progress folder; `restart()` stops and starts
    it on the same port (the browsers keep their cookies)."""

    class Server:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc: subprocess.Popen | None = None

        def start(self) -> None:
            self.proc = start_streamlit(self.port)  # inherits $ATTENTION_LAB_DATA = progress_data_dir
            wait_healthy(self.url, self.proc)

        def stop(self) -> None:
            if self.proc is not None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()

        def restart(self) -> None:
            self.stop()
            self.start()

    s = Server()
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _shows(page, *texts: str) -> str:
    """Wait until the page's main area shows every one of `texts` and the app is idle; return the whole text."""
    for text in texts:
        page.wait_for_function(
            "t => (document.querySelector(\"[data-testid='stMain']\")?.innerText ?? '').includes(t)",
            arg=text,
            timeout=TIMEOUT_MS,
        )
    wait_for_app(page, TIMEOUT_MS)
    return page.locator("[data-testid='stMain']").inner_text()


def _learner_cookie(context, page) -> str:
    """The learner id the app stored in this browser's cookie (waits for the app's script to set it)."""
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=TIMEOUT_MS)
    return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)


def _no_identity_in_address(page) -> None:
    assert LINK_PARAM not in page.evaluate("() => new URLSearchParams(window.location.search).toString()")
    assert page.evaluate("() => window.location.href").count("learner") == 0


@pytest.mark.skipif(PAGE not in {p.slug for p in PAGES}, reason=f"{PAGE} is not registered")
def test_progress_is_kept_per_browser_across_reload_and_restart(browser, server):
    ctx_a, page_a, log_a = open_page(browser, server.url)
    ctx_a.set_default_timeout(TIMEOUT_MS)  # the masks page's first run on a cold server can take a minute
    ctx_b = None
    try:
        _shows(page_a, FOUNDATIONS_EMPTY)
        learner_a = _learner_cookie(ctx_a, page_a)

        page_a.goto(f"{server.url}/{PAGE}", timeout=TIMEOUT_MS)  # a new session: the cookie says who A is
        wait_for_app(page_a, TIMEOUT_MS)
        form = page_a.locator("[data-testid='stForm']").filter(
            has=page_a.locator(f".st-key-quiz--{LESSON}--cross_source--choice")
        )
        form.locator("label", has_text="The encoder's output").click()  # the right answer
        form.get_by_role("button", name="Check").click()
        page_a.locator("[data-testid='stAlertContentSuccess']", has_text="Right.").wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page_a, TIMEOUT_MS)
        page_a.locator(f".st-key-read--{LESSON} label").click()
        page_a.get_by_text(LESSON_DONE).wait_for(timeout=TIMEOUT_MS)  # the lesson's own progress line
        _no_identity_in_address(page_a)

        page_a.goto(server.url, timeout=TIMEOUT_MS)  # back to the map: it counts both
        _shows(page_a, FOUNDATIONS_DONE, LESSON_DONE, "Continue where you left off")
        page_a.reload(timeout=TIMEOUT_MS)
        _shows(page_a, FOUNDATIONS_DONE)

        ctx_b, page_b, log_b = open_page(browser, server.url)  # another browser: nothing of A's
        assert LESSON_DONE not in _shows(page_b, FOUNDATIONS_EMPTY, "Start here")
        learner_b = _learner_cookie(ctx_b, page_b)
        assert learner_b != learner_a

        page_a.locator("[data-testid='stExpander'] summary", has_text="personal link").click()
        shown = page_a.locator("[data-testid='stExpander'] [data-testid='stCode']").first.inner_text().strip()
        assert shown == f"{server.url}/?{LINK_PARAM}={learner_a}"

        assert not log_a.errors and not log_b.errors, log_a.errors + log_b.errors
        server.restart()  # while it is down, both pages log that the server is not responding: expected
        page_a.goto(server.url, timeout=TIMEOUT_MS)  # the cookie, after the restart
        _shows(page_a, FOUNDATIONS_DONE)
        page_a.goto(shown, timeout=TIMEOUT_MS)  # A opens its personal link again
        _shows(page_a, FOUNDATIONS_DONE, "This browser now keeps the progress of your personal link.")
        _no_identity_in_address(page_a)
        page_b.goto(server.url, timeout=TIMEOUT_MS)
        assert LESSON_DONE not in _shows(page_b, FOUNDATIONS_EMPTY)
        assert _learner_cookie(ctx_b, page_b) == learner_b

        assert not page_errors(page_a) and not page_errors(page_b), page_errors(page_a) + page_errors(page_b)
        later = [e for e in log_a.errors + log_b.errors if "server is not responding" not in e]
        assert not later, later
    finally:
        ctx_a.close()
        if ctx_b is not None:
            ctx_b.close()
