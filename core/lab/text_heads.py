"""One attention head of a text model (the English GPT / BERT, or an untrained twin) on a learner's text, stage by
stage, read out of the model's own forward pass: nothing is recomputed beside it.

For layer l and head h the model computed (pre-LN: X is layer l's residual input after ``self_attn_norm``)

    Q = X W_Q[:, h],  K = X W_K[:, h],  V = X W_V[:, h]                 (T, d_k) each
    raw = Q Kᵀ,  scaled = raw · scale (scale = 1/√d_k),  masked = scaled with −∞ where the mask forbids
    weights = softmax(masked) (row-wise),  output = weights · V           (T, T), (T, d_k)

and :class:`core.multihead.HeadsTrace` keeps q, k, v, raw_scores, masked_scores, weights and heads_out in that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from core.text_model import TextModel

HEAD_FIELDS = ("q", "k", "v", "raw_scores", "scaled_scores", "masked_scores", "mask", "weights", "output", "scale")


@torch.no_grad()
def text_head_steps(tm: TextModel, ids: Sequence[int], layer: int, head: int) -> dict[str, Tensor | float]:
    """Head ``head`` of layer ``layer`` of decoder or encoder ``tm`` on ``ids`` (one sequence, as
    :func:`core.text_model.run_text` runs it), as :data:`HEAD_FIELDS` on the CPU:

    q, k, v ``(T, d_k)``; raw_scores = QKᵀ, scaled_scores = raw_scores · scale, masked_scores (the trace's: scaled,
    −∞ where masked), mask (bool, True = the query may attend: the finite masked scores; causal for a GPT, all
    True for a BERT), weights ``(T, T)``; output = weights · V ``(T, d_k)`` (the trace's heads_out); scale (float).

    The scaled stage is the raw scores times the trace's own scale; the English models add no score bias (learned
    positions), so it equals masked_scores wherever the mask allows. Raises ValueError for an encoder-decoder model
    or a layer / head the model does not have.
    """
    if tm.kind == "encoder-decoder":
        raise ValueError(f"{tm.name} is an encoder-decoder model: text_head_steps reads decoders and encoders")
    cfg = tm.model.config
    if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
        raise ValueError(f"{tm.name} has layers 0…{cfg.n_layers - 1} and heads 0…{cfg.n_heads - 1}: got layer "
                         f"{layer}, head {head}")
    device = next(tm.model.parameters()).device
    out = tm.model(torch.tensor([list(ids)], device=device), return_trace=True)
    trace = out.trace[layer].self_attn  # HeadsTrace, batch of one

    def one(t: Tensor) -> Tensor:
        return t[0, head].cpu()  # (B, H, T, ·) -> (T, ·)

    raw, masked = one(trace.raw_scores), one(trace.masked_scores)  # (T, T) each
    return {"q": one(trace.q), "k": one(trace.k), "v": one(trace.v), "raw_scores": raw,
            "scaled_scores": raw * trace.scale, "masked_scores": masked, "mask": torch.isfinite(masked),
            "weights": one(trace.weights), "output": one(trace.heads_out), "scale": float(trace.scale)}
