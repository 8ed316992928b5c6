"""ui.figure_memo: a chart is rebuilt exactly when its builder or an argument changes, and kept per session."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from figures.heatmap import heatmap
from tests.apptest_utils import TIMEOUT_S, chart_specs, error_messages, plotly_values
from ui.figure_memo import inputs_digest


def _digest(*args, **kwargs) -> str:
    return inputs_digest(heatmap, args, kwargs)


def test_digest_follows_every_value_and_type():
    z = np.arange(6.0).reshape(2, 3)
    assert _digest(z, ["a", "b", "c"]) == _digest(z.copy(), ["a", "b", "c"])  # by value, not identity
    changed = z.copy()
    changed[1, 2] += 1e-12
    assert _digest(z) != _digest(changed)
    assert _digest(z) != _digest(z.reshape(3, 2))  # same bytes, other shape
    assert _digest(z) != _digest(z.astype(np.float32))
    assert _digest(torch.tensor(z)) == _digest(torch.tensor(z).clone())
    assert _digest(1) != _digest(1.0) != _digest("1") != _digest((1,))
    assert _digest(title="a") != _digest(title="b")
    assert _digest(x=1, y=2) == _digest(y=2, x=1)
    assert inputs_digest(heatmap, (z,), {}) != inputs_digest(np.sum, (z,), {})  # the builder counts too


def test_digest_refuses_what_it_cannot_compare():
    with pytest.raises(TypeError, match="named builder"):
        inputs_digest(lambda: None, (), {})
    with pytest.raises(TypeError, match="cannot compare"):
        _digest(object())
    assert inputs_digest(functools.partial(heatmap, title="t"), (), {}) != \
        inputs_digest(functools.partial(heatmap, title="u"), (), {})  # fmt: skip


def _memo_script():
    import numpy as np
    import streamlit as st

    from figures.heatmap import heatmap
    from ui.charts import show_figure
    from ui.figure_memo import MEMO_KEY, memo_figure

    n = st.slider("n", 2, 6, 3, key="n")
    other = st.slider("other", 0, 5, 0, key="other")  # changes nothing the chart shows
    labels = [str(i) for i in range(n)]
    fig = memo_figure("memo_map", heatmap, np.eye(n) * (other >= 0), labels, labels, f"{n} × {n}")
    show_figure(fig, key="memo_map")
    runs = st.session_state.setdefault("figure_ids", [])
    runs.append(id(st.session_state[MEMO_KEY]["memo_map"][1]))


def test_a_chart_is_rebuilt_only_when_what_it_shows_changes():
    at = AppTest.from_function(_memo_script, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, error_messages(at)
    at.slider(key="other").set_value(4).run()  # the chart's inputs are unchanged: the same figure object
    ids = at.session_state["figure_ids"]
    assert ids[0] == ids[1]
    at.slider(key="n").set_value(5).run()  # its inputs changed: built again, and it shows the new matrix
    assert not at.exception, error_messages(at)
    assert at.session_state["figure_ids"][2] != ids[0]
    (spec,) = chart_specs(at)
    np.testing.assert_array_equal(plotly_values(spec["data"][0]["z"]), np.eye(5))
    assert spec["layout"]["title"]["text"] == "5 × 5"


def test_each_session_keeps_its_own_figures():
    first, second = (AppTest.from_function(_memo_script, default_timeout=TIMEOUT_S) for _ in range(2))
    first.run()
    second.run()
    second.slider(key="n").set_value(4).run()
    first.run()
    assert not first.exception and not second.exception
    (a,), (b,) = chart_specs(first), chart_specs(second)
    assert plotly_values(a["data"][0]["z"]).shape == (3, 3)
    assert plotly_values(b["data"][0]["z"]).shape == (4, 4)
