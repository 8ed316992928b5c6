"""One attention head, stage by stage, on the step-by-step page's inputs: seeded random weights on words or random
tokens, or a trained decoder's own head. Every stage of :class:`core.attention.AttentionTrace` comes back by name."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from core.attention import attention
from core.generation import head_inputs
from core.lab.toy_inputs import random_embeddings, seeded_embeddings, seeded_qkv
from core.masks import causal_mask
from core.train.tasks import Task

TRACE_FIELDS = ("raw_scores", "scaled_scores", "masked_scores", "weights", "output", "scale")


def seeded_head_steps(tokens: Sequence[str] | None, n_random: int, d_model: int, d_k: int, temperature: float,
                      causal: bool, seed: int, device: str = "cpu") -> dict[str, Tensor | float]:
    """Embeddings x ``(T, d_model)`` (seeded per word, or ``n_random`` random tokens when ``tokens`` is None) ->
    q, k, v ``(T, d_k)`` by seeded W_Q, W_K, W_V -> core attention: x, q, k, v and every trace field
    (``scale``: the factor the raw scores were multiplied by)."""
    x = seeded_embeddings(tokens, d_model, seed) if tokens else random_embeddings(n_random, d_model, seed)
    q, k, v = (t.to(device) for t in seeded_qkv(x, d_k, seed))  # (T, d_k) each
    trace = attention(q, k, v, causal_mask(len(x), device=device) if causal else None, temperature=temperature)
    return {"x": x, "q": q, "k": k, "v": v, **{f: getattr(trace, f) for f in TRACE_FIELDS}}


def trained_head_steps(model: nn.Module, task: Task, text: str, layer: int, head: int,
                       temperature: float) -> tuple[list[str], dict[str, Tensor | float]]:
    """One head of a decoder-only ``model`` on ``text``: (tokens, fields). Its own q, k, v ``(T, d_k)`` from the
    model's forward pass, core attention on them (causal, as the model was trained), and the model's own weights
    (``model_weights``, to compare). ``task.check_input`` raises first for bad input."""
    h = head_inputs(model, task, text, layer, head)
    trace = attention(h.q, h.k, h.v, causal_mask(len(h.labels)), temperature=temperature)
    return h.labels, {"q": h.q, "k": h.k, "v": h.v, "model_weights": h.weights,
                      **{f: getattr(trace, f) for f in TRACE_FIELDS}}
