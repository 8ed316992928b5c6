"""Export figures and attention tensors to files: PNG/SVG (matplotlib, no browser), HTML, tidy CSV, JSON, NPY, ZIP.

Pure functions (no streamlit). Deterministic: the same inputs give byte-identical CSV / JSON / NPY.
PNG and SVG are drawn by matplotlib's Agg/SVG backends from the figure's own data, so they work offline on a fresh
install (kaleido would need a Chrome and ~3 s a figure).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import plotly.io as pio  # noqa: E402

from figures.heatmap import DIVERGING_SCALE, WEIGHT_SCALE, as_numpy  # noqa: E402

_CMAPS = {"Blues": "Blues", "RdBu_r": "RdBu_r", "Viridis": "viridis"}


@dataclass(frozen=True)
class AttentionExport:
    """Attention weights of every (layer, head) plus what produced them, ready for export.

    weights: (L, H, Lq, Lk). query_tokens: Lq labels; key_tokens: Lk labels.
    inputs: the settings that produced the view (hashed into file names). tensors: raw arrays for JSON / NPY.
    """

    page: str
    model: str
    weights: np.ndarray
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    inputs: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)
    value_name: str = "weight"

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.ndim != 4 or w.shape[2:] != (len(self.query_tokens), len(self.key_tokens)):
            raise ValueError(f"weights must be (L, H, Lq, Lk) matching the tokens, got {w.shape}")

    @property
    def input_hash(self) -> str:
        return inputs_hash(self.inputs)

    def stem(self, layer: int | None = None, head: int | None = None) -> str:
        """e.g. 'multi_head_random-seed0_L0_H3_1a2b3c4d': page, model, layer, head, short hash of inputs."""
        parts = [self.page, _safe(self.model)]
        if layer is not None:
            parts.append(f"L{layer}")
        if head is not None:
            parts.append(f"H{head}")
        parts.append(self.input_hash)
        return "_".join(parts)

    def file_name(self, ext: str, layer: int | None = None, head: int | None = None) -> str:
        """:meth:`stem` plus ``.ext``, e.g. 'multi_head_random-seed0_L0_H3_1a2b3c4d.png'."""
        return f"{self.stem(layer, head)}.{ext}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:40] or "model"


def inputs_hash(inputs: dict) -> str:
    """8 hex digits identifying a set of inputs (stable across runs and machines)."""
    blob = json.dumps(inputs, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def figure_digest(fig: go.Figure) -> str:
    """8 hex digits identifying what a figure shows: its title and every trace's x, y and z data.

    Names the export files of figures without an :class:`AttentionExport`, so two different views never share a
    file name (~0.3 ms for a 16-panel grid of 24 × 24 maps)."""
    h = hashlib.sha256(str(fig.layout.title.text).encode())
    for trace in fig.data:
        for attr in ("x", "y", "z"):
            values = getattr(trace, attr, None)
            if values is None:
                continue
            arr = np.asarray(values)
            h.update(attr.encode())
            h.update(arr.tobytes() if arr.dtype.kind in "fiub" else "\x1f".join(map(str, arr.ravel().tolist())).encode())
    return h.hexdigest()[:8]


def figure_data_frame(fig: go.Figure) -> pd.DataFrame:
    """The numbers a figure draws, one row per value: trace (index), name, then for a heatmap row_pos, row_label,
    col_pos, col_label, value (and hover_value when the hover shows other numbers than the colours, e.g. a head's
    weight beside weight ÷ head max); for any other trace point, x and y."""
    frames = []
    for i, trace in enumerate(fig.data):
        name = trace.name or ""
        if trace.type == "heatmap":
            z = np.asarray(trace.z, dtype=float)  # (rows, cols)
            rows, cols = np.meshgrid(np.arange(z.shape[0]), np.arange(z.shape[1]), indexing="ij")
            x = list(trace.x) if trace.x is not None else list(range(z.shape[1]))
            y = list(trace.y) if trace.y is not None else list(range(z.shape[0]))
            frame = {"row_pos": rows.ravel(), "row_label": np.asarray(y, dtype=object)[rows.ravel()],
                     "col_pos": cols.ravel(), "col_label": np.asarray(x, dtype=object)[cols.ravel()],
                     "value": z.ravel()}  # fmt: skip
            if trace.customdata is not None and np.shape(trace.customdata) == z.shape:
                frame["hover_value"] = np.asarray(trace.customdata, dtype=float).ravel()
        else:
            x = list(trace.x) if getattr(trace, "x", None) is not None else []
            y = list(trace.y) if getattr(trace, "y", None) is not None else []
            n = max(len(x), len(y))
            frame = {"x": x + [None] * (n - len(x)), "y": y + [None] * (n - len(y))}
        frames.append(pd.DataFrame({"trace": i, "name": name, **frame}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"trace": []})


def figure_data_csv(fig: go.Figure) -> bytes:
    """:func:`figure_data_frame` as CSV (floats to 9 significant digits: float32 round-trips)."""
    return figure_data_frame(fig).to_csv(index=False, float_format="%.9g", lineterminator="\n").encode()


def figure_data_json(fig: go.Figure) -> bytes:
    """The figure's title and every trace's type, name, x, y and z as JSON (keys sorted: byte-identical when the
    figure is)."""
    def plain(values):
        return None if values is None else np.asarray(values).tolist()

    payload = {"title": fig.layout.title.text, "traces": [
        {"type": t.type, "name": t.name, **{a: plain(getattr(t, a, None)) for a in ("x", "y", "z")}} for t in fig.data
    ]}  # fmt: skip
    return json.dumps(payload, sort_keys=True, default=str).encode()


def attention_tidy_frame(export: AttentionExport) -> pd.DataFrame:
    """One row per (layer, head, query, key): layer, head, query_pos, query_token, key_pos, key_token, weight."""
    w = np.asarray(export.weights, dtype=np.float64)  # (L, H, Lq, Lk)
    n_layers, n_heads, lq, lk = w.shape
    layer, head, qpos, kpos = np.meshgrid(
        np.arange(n_layers), np.arange(n_heads), np.arange(lq), np.arange(lk), indexing="ij"
    )
    return pd.DataFrame({
        "layer": layer.ravel(),
        "head": head.ravel(),
        "query_pos": qpos.ravel(),
        "query_token": np.asarray(export.query_tokens, dtype=object)[qpos.ravel()],
        "key_pos": kpos.ravel(),
        "key_token": np.asarray(export.key_tokens, dtype=object)[kpos.ravel()],
        export.value_name: w.ravel(),
    })


def attention_csv(export: AttentionExport) -> bytes:
    """Tidy CSV (see attention_tidy_frame), floats written with 9 significant digits (fp32 round-trips)."""
    return attention_tidy_frame(export).to_csv(index=False, float_format="%.9g", lineterminator="\n").encode()


def attention_json(export: AttentionExport) -> bytes:
    """Raw tensors and their labels as JSON (keys sorted, so byte-identical for identical inputs)."""
    payload = {
        "page": export.page,
        "model": export.model,
        "inputs": export.inputs,
        "query_tokens": list(export.query_tokens),
        "key_tokens": list(export.key_tokens),
        "tensors": {
            name: {"shape": list(np.shape(a)), "values": np.asarray(a, dtype=np.float64).round(9).tolist()}
            for name, a in {export.value_name: export.weights, **export.tensors}.items()
        },
    }
    return json.dumps(payload, sort_keys=True, default=str).encode()


def attention_npz(export: AttentionExport) -> bytes:
    """Every raw tensor as one .npz (numpy's own format; no pickles: object arrays are refused)."""
    buf = io.BytesIO()
    arrays = {export.value_name: np.asarray(export.weights), **{k: np.asarray(v) for k, v in export.tensors.items()}}
    np.savez(buf, **arrays)
    return buf.getvalue()


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained interactive HTML file (plotly.js embedded: works offline, no CDN)."""
    return pio.to_html(fig, include_plotlyjs=True, full_html=True).encode()


def heatmap_image(
    z, x_labels: Sequence[str], y_labels: Sequence[str], title: str, *,
    colorbar_title: str = "weight", fmt: str = "png", colorscale: str = "Blues", dpi: int = 110,
) -> bytes:
    """One labelled heatmap (title, token labels, colour bar) drawn by matplotlib as PNG or SVG bytes."""
    fig, ax = plt.subplots(figsize=_size(len(x_labels), len(y_labels)))
    try:
        _draw_heatmap(ax, as_numpy(z), x_labels, y_labels, title, colorbar_title, colorscale, fig)
        return _save(fig, fmt, dpi)
    finally:
        plt.close(fig)


def figure_image(fig: go.Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """A static PNG/SVG of a Plotly figure from its own data: heatmaps (one or a grid), lines/markers and bars."""
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    title = (fig.layout.title.text or "") if fig.layout.title else ""
    if heatmaps:
        panel_titles = [a.text for a in fig.layout.annotations] if len(heatmaps) > 1 else [title]
        cols = min(4, len(heatmaps))
        rows = -(-len(heatmaps) // cols)
        first = heatmaps[0]
        w, h = _size(len(first.x or []), len(first.y or []))
        mfig, axes = plt.subplots(rows, cols, figsize=(w * cols * 0.8, h * rows * 0.8), squeeze=False)
        try:
            for i, ax in enumerate(axes.ravel()):
                if i >= len(heatmaps):
                    ax.axis("off")
                    continue
                t = heatmaps[i]
                cbar = t.colorbar.title.text if t.colorbar and t.colorbar.title else "value"
                z = as_numpy(t.z)
                scale = DIVERGING_SCALE if np.nanmin(z) < 0 else WEIGHT_SCALE
                _draw_heatmap(ax, z, list(t.x), list(t.y), panel_titles[i] if i < len(panel_titles) else "",
                              cbar or "value", scale, mfig, zmin=t.zmin, zmax=t.zmax)
            if len(heatmaps) > 1:
                mfig.suptitle(title)
            return _save(mfig, fmt, dpi)
        finally:
            plt.close(mfig)
    mfig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for t in fig.data:
            x = np.asarray(t.x if t.x is not None else np.arange(len(t.y)))
            y = np.asarray(t.y)
            if t.type == "bar":
                ax.bar([str(v) for v in x], y, label=t.name)
            else:
                ax.plot(x, y, marker="o" if "markers" in str(t.mode) else None, label=t.name)
        ax.set_title(title)
        ax.set_xlabel(fig.layout.xaxis.title.text or "")
        ax.set_ylabel(fig.layout.yaxis.title.text or "")
        if fig.layout.xaxis.type == "log":
            ax.set_xscale("log")
        if fig.layout.yaxis.type == "log":
            ax.set_yscale("log")
        if any(t.name for t in fig.data):
            ax.legend()
        return _save(mfig, fmt, dpi)
    finally:
        plt.close(mfig)


def attention_zip(export: AttentionExport, fmt: str = "png") -> bytes:
    """A ZIP with one image per (layer, head), the tidy CSV, the JSON and the NPZ of the raw tensors."""
    buf = io.BytesIO()
    n_layers, n_heads = np.shape(export.weights)[:2]
    weights = np.asarray(export.weights, dtype=float)
    # One matplotlib canvas reused for every panel (only the pixels and the title change): ~5× faster than
    # building a figure per head. Colour range 0..max so every panel's colour bar reads the same.
    fig, ax = plt.subplots(figsize=_size(len(export.key_tokens), len(export.query_tokens)))
    try:
        _draw_heatmap(ax, weights[0, 0], export.key_tokens, export.query_tokens, "", export.value_name, WEIGHT_SCALE,
                      fig, zmin=min(0.0, float(np.nanmin(weights))), zmax=float(np.nanmax(weights)))
        image, fig_title = ax.images[0], ax.title
        fig.tight_layout()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for layer in range(n_layers):
                for head in range(n_heads):
                    image.set_data(np.ma.masked_invalid(weights[layer, head]))
                    fig_title.set_text(f"{export.page} · {export.model} · layer {layer} head {head}")
                    zf.writestr(_fixed_time(export.file_name(fmt, layer, head)), _save(fig, fmt, 100, layout=False))
            zf.writestr(_fixed_time(export.file_name("csv")), attention_csv(export))
            zf.writestr(_fixed_time(export.file_name("json")), attention_json(export))
            zf.writestr(_fixed_time(export.file_name("npz")), attention_npz(export))
    finally:
        plt.close(fig)
    return buf.getvalue()


def _fixed_time(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2017, 6, 12, 0, 0, 0))  # fixed timestamp: reproducible archives
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _size(n_x: int, n_y: int) -> tuple[float, float]:
    return (min(14.0, 3.0 + 0.32 * max(n_x, 1)), min(12.0, 2.4 + 0.3 * max(n_y, 1)))


def _draw_heatmap(ax, z, x_labels, y_labels, title, colorbar_title, colorscale, fig, zmin=None, zmax=None) -> None:
    masked = np.ma.masked_invalid(np.asarray(z, dtype=float))
    image = ax.imshow(masked, cmap=_CMAPS.get(colorscale, "Blues"), aspect="auto", vmin=zmin, vmax=zmax,
                      interpolation="nearest")
    ax.set_xticks(range(len(x_labels)), [str(s) for s in x_labels], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(y_labels)), [str(s) for s in y_labels], fontsize=7)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label=colorbar_title)


def _save(fig, fmt: str, dpi: int, *, layout: bool = True) -> bytes:
    if fmt not in ("png", "svg"):
        raise ValueError(f"unknown image format {fmt!r}: choose png or svg")
    if layout:
        fig.tight_layout()
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
