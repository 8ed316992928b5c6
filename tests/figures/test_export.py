"""Export files decode, carry the right data, and are byte-identical for identical inputs."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from core.attention import attention
from figures.export import (
    AttentionExport,
    attention_csv,
    attention_json,
    attention_npz,
    attention_zip,
    figure_data_csv,
    figure_data_json,
    figure_digest,
    figure_html,
    figure_image,
    heatmap_image,
)
from figures.heatmap import heatmap, heatmap_grid

TOKENS = ("the", "cat", "sat", "on", "the", "mat")


def _export(seed: int = 0) -> AttentionExport:
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 3, len(TOKENS), 8, generator=g) for _ in range(3))  # (L=2, H=3, T, d)
    weights = attention(q, k, v).weights.numpy()
    return AttentionExport("multi_head", f"random-seed{seed}", weights, TOKENS, TOKENS, {"seed": seed, "d": 8},
                           tensors={"q": q.numpy()})


def test_csv_is_tidy_and_rows_per_query_sum_to_one():
    export = _export()
    frame = pd.read_csv(io.BytesIO(attention_csv(export)))
    assert list(frame.columns) == ["layer", "head", "query_pos", "query_token", "key_pos", "key_token", "weight"]
    assert len(frame) == 2 * 3 * len(TOKENS) ** 2
    sums = frame.groupby(["layer", "head", "query_pos"])["weight"].sum().to_numpy()
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    row = frame[(frame.layer == 1) & (frame["head"] == 2) & (frame.query_pos == 3) & (frame.key_pos == 5)]
    assert row.query_token.item() == "on" and row.key_token.item() == "mat"
    assert row.weight.item() == pytest.approx(float(export.weights[1, 2, 3, 5]), rel=1e-7)


def test_same_inputs_give_byte_identical_files_and_different_inputs_do_not():
    a, b, c = _export(0), _export(0), _export(1)
    for make in (attention_csv, attention_json, attention_npz):
        assert make(a) == make(b)
        assert make(a) != make(c)
    assert a.file_name("csv") == b.file_name("csv") != c.file_name("csv")


def test_json_and_npz_round_trip_the_raw_tensors():
    export = _export()
    payload = json.loads(attention_json(export))
    np.testing.assert_allclose(np.array(payload["tensors"]["weight"]["values"]), export.weights, atol=1e-9)
    assert payload["query_tokens"] == list(TOKENS)
    arrays = np.load(io.BytesIO(attention_npz(export)), allow_pickle=False)
    np.testing.assert_array_equal(arrays["weight"], export.weights)
    np.testing.assert_array_equal(arrays["q"], export.tensors["q"])


def test_png_and_svg_decode():
    export = _export()
    png = heatmap_image(export.weights[0, 0], TOKENS, TOKENS, "layer 0 head 0")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    assert image.size[0] >= 300 and image.size[1] >= 200
    svg = figure_image(heatmap(export.weights[0, 0], TOKENS, TOKENS, "a title"), "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert b"a title" in svg


def test_figure_image_handles_grids_and_line_charts():
    export = _export()
    grid = heatmap_grid(export.weights[0], TOKENS, TOKENS, ["h0", "h1", "h2"], "heads")
    assert figure_image(grid, "png")[:4] == b"\x89PNG"
    line = go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 4, 9], name="n²"))
    assert figure_image(line, "png")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="png or svg"):
        figure_image(line, "gif")


def test_html_is_self_contained():
    html = figure_html(heatmap(np.eye(3), list("abc"), list("abc"), "eye"))
    assert b"<html" in html and b"plotly" in html.lower()
    import re

    assert not re.search(rb"<script[^>]+src=", html)  # plotly.js embedded, no external script: works offline
    assert len(html) > 1_000_000


def test_zip_holds_every_layer_and_head_plus_data():
    export = _export()
    names = zipfile.ZipFile(io.BytesIO(attention_zip(export))).namelist()
    pngs = [n for n in names if n.endswith(".png")]
    assert len(pngs) == 2 * 3
    assert any("_L1_H2_" in n for n in pngs)
    assert all(n.startswith("multi_head_random-seed0") for n in names)
    assert len(names) == len(set(names)) == 2 * 3 + 3
    assert {n.rsplit(".", 1)[1] for n in names} == {"png", "csv", "json", "npz"}
    assert attention_zip(export) == attention_zip(_export())  # reproducible archive


def test_export_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="Lq, Lk"):
        AttentionExport("p", "m", np.zeros((1, 1, 2, 3)), ("a", "b"), ("a", "b"))


def test_figure_digest_follows_the_data_and_the_title():
    w = np.random.default_rng(0).random((6, 6))
    base = figure_digest(heatmap(w, TOKENS, TOKENS, "weights"))
    assert figure_digest(heatmap(w.copy(), TOKENS, TOKENS, "weights")) == base  # same view, same name
    changed = w.copy()
    changed[2, 3] += 1e-6
    assert figure_digest(heatmap(changed, TOKENS, TOKENS, "weights")) != base
    assert figure_digest(heatmap(w, TOKENS, TOKENS, "other title")) != base
    assert figure_digest(heatmap(w, ("a",) + TOKENS[1:], TOKENS, "weights")) != base  # labels count too
    assert len(base) == 8 and int(base, 16) >= 0


def test_figure_data_csv_and_json_hold_what_the_figure_draws():
    w = np.random.default_rng(1).random((6, 6)).astype(np.float32)
    fig = heatmap(w, TOKENS, TOKENS, "weights")
    frame = pd.read_csv(io.BytesIO(figure_data_csv(fig)))
    assert len(frame) == 36 and list(frame.columns[:2]) == ["trace", "name"]
    np.testing.assert_allclose(frame.pivot(index="row_pos", columns="col_pos", values="value").to_numpy(), w, rtol=1e-6)
    assert frame.loc[(frame.row_pos == 2) & (frame.col_pos == 5), ["row_label", "col_label"]].values.tolist() == [
        [TOKENS[2], TOKENS[5]]]
    assert figure_data_csv(heatmap(w.copy(), TOKENS, TOKENS, "weights")) == figure_data_csv(fig)  # deterministic
    payload = json.loads(figure_data_json(fig))
    assert payload["title"] == "weights" and np.allclose(payload["traces"][0]["z"], w)

    per_head = heatmap_grid(np.stack([w, 2 * w]), TOKENS, TOKENS, ["h0", "h1"], "grid", shared_scale=False)
    rows = pd.read_csv(io.BytesIO(figure_data_csv(per_head)))
    np.testing.assert_allclose(rows[rows.trace == 1]["hover_value"].to_numpy(), (2 * w).ravel(), rtol=1e-6)

    line = go.Figure([go.Scatter(x=[1, 2, 3], y=[0.5, 0.25, 0.125], name="loss")])
    points = pd.read_csv(io.BytesIO(figure_data_csv(line)))
    assert points[["x", "y"]].values.tolist() == [[1, 0.5], [2, 0.25], [3, 0.125]] and set(points.name) == {"loss"}
