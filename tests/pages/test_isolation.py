"""Sessions are isolated: two sessions with different settings each keep their own results."""

from __future__ import annotations

import json

import pytest

from course.registry import PAGES
from tests.apptest_utils import chart_specs, error_messages, open_page

pytestmark = pytest.mark.skipif(not PAGES, reason="no page registered yet")


def _data(at) -> str:
    return json.dumps([s["data"] for s in chart_specs(at)], sort_keys=True)


def test_two_sessions_with_different_seeds_keep_their_own_figures():
    entry = PAGES[0]
    a = open_page(entry.module, settings_seed=0)
    b = open_page(entry.module, settings_seed=1)
    assert not a.exception and not b.exception, error_messages(a) + error_messages(b)
    a_before = _data(a)
    assert a_before != _data(b), "different seeds should draw different figures"
    b.session_state["settings_seed"] = 2
    b.run()
    a.run()  # session A reruns after B changed its settings: A's view is unchanged
    assert _data(a) == a_before
    assert a.session_state["settings_seed"] == 0
