"""The export panel on real pages: the files a learner downloads hold what the page shows, named after it.

`st.download_button` is wrapped (the page still calls the real one) to record each button's file name and its lazy
data callable, which is then called as a click would."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import streamlit

from course.registry import PAGES
from tests.apptest_utils import chart_specs, error_messages, open_export_panels, open_page, plotly_values

MODULES = {p.slug: p.module for p in PAGES}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def downloads(monkeypatch) -> dict[str, dict]:
    """key → {'file_name', 'data'} of every download button drawn since the fixture started."""
    seen: dict[str, dict] = {}
    real = streamlit.download_button

    def recording(label, data, file_name=None, *args, key=None, **kwargs):
        seen[key] = {"label": label, "file_name": file_name, "data": data}
        return real(label, data, file_name, *args, key=key, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return seen


def _bytes(entry: dict) -> bytes:
    data = entry["data"]
    return data() if callable(data) else data


def _by_label(downloads: dict, chart_key: str, label_start: str) -> dict:
    found = [d for k, d in downloads.items() if k.startswith(f"{chart_key}_export_") and d["label"].startswith(label_start)]
    assert len(found) == 1, (chart_key, label_start, [d["label"] for d in downloads.values()])
    return found[0]


def test_model_explorer_exports_every_layer_and_head_as_shown(downloads):
    at = open_export_panels(open_page(MODULES["model_explorer"], model_explorer_mode="model"))
    assert not at.exception, error_messages(at)
    grid = next(s for s in chart_specs(at) if "every layer × head" in s["layout"]["title"]["text"])
    panels = [plotly_values(t["z"]) for t in grid["data"]]  # layer-major: layer 0 heads, layer 1 heads, ...

    csv = _by_label(downloads, "model_explorer_grid", "CSV")
    model = at.selectbox(key="model_explorer_model").value
    assert csv["file_name"].startswith(f"model_explorer_{model}_") and csv["file_name"].endswith(".csv")
    frame = pd.read_csv(io.BytesIO(_bytes(csv)))
    n_layers, n_heads = frame["layer"].max() + 1, frame["head"].max() + 1
    assert n_layers * n_heads == len(panels)
    for (layer, head), rows in frame.groupby(["layer", "head"]):
        shown = panels[layer * n_heads + head]
        table = rows.pivot(index="query_pos", columns="key_pos", values="weight").to_numpy()
        np.testing.assert_allclose(np.nan_to_num(table), np.nan_to_num(shown), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(rows.groupby("query_pos")["weight"].sum(), 1.0, rtol=1e-5)  # softmax rows

    archive = zipfile.ZipFile(io.BytesIO(_bytes(_by_label(downloads, "model_explorer_grid", "ZIP"))))
    pngs = [n for n in archive.namelist() if n.endswith(".png")]
    assert len(pngs) == len(panels) and all(archive.read(n).startswith(PNG_MAGIC) for n in pngs)
    assert f"model_explorer_{model}_L{n_layers - 1}_H{n_heads - 1}_" in " ".join(pngs)
    assert {n.rsplit(".", 1)[1] for n in archive.namelist()} == {"png", "csv", "json", "npz"}

    one = _by_label(downloads, "model_explorer_one", "PNG")  # the single-head map: its layer and head in the name
    assert one["file_name"].startswith(f"model_explorer_{model}_L0_H0_") and _bytes(one).startswith(PNG_MAGIC)


def test_export_buttons_are_drawn_only_while_the_panel_is_open(downloads):
    at = open_page(MODULES["masks"])
    assert not at.exception, error_messages(at)
    panels = [k for k in at.session_state.keys() if str(k).endswith("_export")]
    assert len(panels) == len(chart_specs(at))  # one panel per chart
    exported = lambda: {k: d for k, d in downloads.items() if "_export_" in k}  # noqa: E731 (the charts' buttons)
    assert not exported()  # closed: no button, no file name computed
    at.session_state["masks_gallery_export"] = True  # the learner opens one panel
    at.run()
    assert not at.exception, error_messages(at)
    assert exported() and all(k.startswith("masks_gallery_export_") for k in exported())
    assert {d["label"] for d in exported().values()} >= {"PNG image", "SVG image", "Interactive HTML"}


def test_figure_file_names_change_with_what_the_figure_shows(downloads):
    at = open_export_panels(open_page(MODULES["masks"]))
    assert not at.exception, error_messages(at)
    before = {k: d["file_name"] for k, d in downloads.items() if d["label"] == "PNG image"}
    assert before and len(set(before.values())) == len(before)  # every figure its own name
    at.run()
    assert {k: d["file_name"] for k, d in downloads.items() if d["label"] == "PNG image"} == before  # same view
    slider = at.slider(key="masks_length")
    slider.set_value(slider.value + 1).run()
    after = {k: d["file_name"] for k, d in downloads.items() if d["label"] == "PNG image"}
    changed = [k for k in before if after.get(k) != before[k]]
    assert changed, "no file name followed the sequence length"
    assert all(after[k].startswith(k.removesuffix("_export_0")) for k in after)  # named after the chart (slug first)


def test_a_figure_without_attention_tensors_exports_its_own_numbers(downloads):
    at = open_export_panels(open_page(MODULES["masks"]))
    assert not at.exception, error_messages(at)
    gallery = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Mask gallery"))
    key = next(k.removesuffix("_export_0") for k, d in downloads.items()
               if d["label"] == "PNG image" and d["file_name"].startswith("masks_gallery"))
    csv = _by_label(downloads, key, "CSV")
    assert csv["file_name"].endswith(".csv") and csv["file_name"].startswith(key)
    frame = pd.read_csv(io.BytesIO(_bytes(csv)))
    for i, trace in enumerate(gallery["data"]):  # every panel: the drawn mask, value by value
        panel = frame[frame.trace == i].pivot(index="row_pos", columns="col_pos", values="value").to_numpy()
        np.testing.assert_array_equal(panel, plotly_values(trace["z"]))
