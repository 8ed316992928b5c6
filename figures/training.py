"""Training and decoding figures: loss / accuracy curves, next-token probability bars, KV-cache size and speed."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

LOSS_COLOUR, TOKEN_COLOUR, EXACT_COLOUR, HELD_OUT_COLOUR = "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"


def training_curves(
    steps: Sequence[int],
    loss: Sequence[float],
    token_accuracy: Sequence[float],
    exact_match: Sequence[float],
    *,
    eval_steps: Sequence[int] = (),
    eval_exact_match: Sequence[float] = (),
    title: str = "Training curves",
    total_steps: int | None = None,
) -> go.Figure:
    """Loss (top, log scale) and accuracy (bottom: token, exact match on the training batch, held-out exact match)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("cross-entropy loss (training batch)", "accuracy"))  # fmt: skip
    fig.add_trace(go.Scatter(x=list(steps), y=list(loss), name="loss", line={"color": LOSS_COLOUR}), row=1, col=1)
    for name, values, colour in (("token accuracy", token_accuracy, TOKEN_COLOUR),
                                 ("exact match (batch)", exact_match, EXACT_COLOUR)):  # fmt: skip
        fig.add_trace(go.Scatter(x=list(steps), y=list(values), name=name, line={"color": colour}), row=2, col=1)
    if len(eval_steps):
        held_out = go.Scatter(x=list(eval_steps), y=list(eval_exact_match), name="exact match (held-out)",
                              mode="lines+markers", line={"color": HELD_OUT_COLOUR, "dash": "dot"})
        fig.add_trace(held_out, row=2, col=1)
    fig.update_yaxes(type="log", title_text="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="share right", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1, range=[0, total_steps] if total_steps else None)
    fig.update_layout(title={"text": title}, height=460, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      legend={"orientation": "h", "y": -0.15})  # fmt: skip
    return fig


def probability_bars(
    labels: Sequence[str],
    probs: Sequence[float],
    *,
    model_probs: Sequence[float] | None = None,
    chosen: int | None = None,
    top: int = 16,
    title: str = "Next-token probabilities",
) -> go.Figure:
    """The ``top`` most likely tokens of ``probs`` (the distribution sampled from), largest first; ``chosen`` (an index
    into labels) is drawn in orange; ``model_probs`` (softmax at T = 1, before any cut) as a grey outline beside."""
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], -(model_probs[i] if model_probs else 0)))[:top]
    names = [repr(labels[i]) for i in order]
    colours = ["#ff7f0e" if i == chosen else "#1f77b4" for i in order]
    fig = go.Figure()
    if model_probs is not None:
        fig.add_trace(go.Bar(x=names, y=[model_probs[i] for i in order], name="model (T = 1, no cut)",
                             marker={"color": "rgba(0,0,0,0)", "line": {"color": "grey", "width": 2}}))  # fmt: skip
    fig.add_trace(go.Bar(x=names, y=[probs[i] for i in order], name="sampled from", marker={"color": colours},
                         hovertemplate="token %{x}<br>p = %{y:.4f}<extra></extra>"))  # fmt: skip
    fig.update_layout(title={"text": title}, barmode="group", height=340, yaxis={"range": [0, 1.02], "title": "p"},
                      xaxis={"title": "token", "type": "category"}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def kv_cache_figure(cache_bytes: Sequence[Sequence[int]], seconds: dict[str, float]) -> go.Figure:
    """Left: bytes of each layer's real K/V cache tensors after each generated token (one line per layer).
    Right: measured median time per token with and without the cache (``seconds``: label -> s)."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4],
                        subplot_titles=("KV cache size per layer", "time per generated token"))  # fmt: skip
    n_layers = len(cache_bytes[0]) if cache_bytes else 0
    for layer in range(n_layers):
        sizes = [step[layer] for step in cache_bytes]
        fig.add_trace(go.Scatter(x=list(range(1, len(sizes) + 1)), y=sizes, mode="lines+markers",
                                 name=f"layer {layer} K+V"), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Bar(x=list(seconds), y=[1000 * s for s in seconds.values()], name="ms / token",
                         marker={"color": ["#2ca02c", "#d62728"][: len(seconds)]},
                         hovertemplate="%{x}: %{y:.3f} ms<extra></extra>"), row=1, col=2)  # fmt: skip
    fig.update_xaxes(title_text="tokens generated", row=1, col=1)
    fig.update_yaxes(title_text="bytes", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="ms", rangemode="tozero", row=1, col=2)
    fig.update_layout(height=340, margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return fig
