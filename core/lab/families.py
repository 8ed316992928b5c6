"""The three transformer families on live examples: what each reads, what it predicts, and the masks its attention
actually used, read from the trace (a masked score is -inf, so the mask is ``isfinite(scores)``).

    encoder-only (BERT)      fill the hidden letters of  "ab?de=a?cd?"        bidirectional self-attention
    decoder-only (GPT)       predict the next token after "^abcdef="          causal self-attention
    encoder-decoder (T5)     transduce "22 Nov 2026" -> "2026-11-22"          encoder: bidirectional, decoder: causal
                                                                              + cross-attention over the encoder
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.blocks import LayerTrace
from core.generation import model_family, predict
from core.masks import causal_mask, cross_mask
from core.models import EncoderDecoderModel
from core.train.tasks import Task
from core.train.training import ModelSpec, build_model, model_config

FAMILY_TASKS: dict[str, str] = {"encoder": "masked", "decoder": "reverse", "seq2seq": "dates"}
FAMILY_NAMES: dict[str, str] = {"encoder": "encoder-only", "decoder": "decoder-only", "seq2seq": "encoder-decoder"}


@dataclass(frozen=True)
class AttentionView:
    """One kind of attention in a model: weights ``(L, H, Lq, Lk)``, the mask it used ``(Lq, Lk)`` (True = may
    attend, from layer 0's scores), and the token labels of its query and key axes."""

    name: str
    weights: Tensor
    mask: Tensor
    query_labels: list[str]
    key_labels: list[str]


@dataclass(frozen=True)
class FamilyExample:
    """A model's answer to ``text`` and every attention it used. ``next_token``: for decoder-only models, the
    top next-token probabilities after the prompt, ``[(token, p), ...]``."""

    family: str
    text: str
    answer: str
    expected: str | None
    attentions: tuple[AttentionView, ...]
    next_token: tuple[tuple[str, float], ...] = ()

    @property
    def correct(self) -> bool | None:
        return None if self.expected is None else self.answer == self.expected


def _mask_from(traces: list[LayerTrace], kind: str) -> Tensor:
    return torch.isfinite(getattr(traces[0], kind).masked_scores[0, 0]).cpu()  # (Lq, Lk): layer 0, head 0


@torch.no_grad()
def run_example(model: nn.Module, task: Task, text: str, *, top_k: int = 5) -> FamilyExample:
    """Answer ``text`` greedily with ``model`` (any family) and collect its attention and masks.

    Raises the task's ``UnknownCharacters`` / ``InvalidInput`` (ValueErrors saying what to type) for bad input.
    """
    prediction = predict(model, task, text)  # checks the input, decodes greedily, keeps every layer's weights
    family, vocab = model_family(model), task.vocab
    device = next(model.parameters()).device
    labels = prediction.labels
    tokens = torch.tensor([vocab.encode("".join(labels))], device=device)  # (1, T)
    next_token: tuple[tuple[str, float], ...] = ()
    if isinstance(model, EncoderDecoderModel):
        src = torch.tensor([vocab.encode(text)], device=device)  # (1, S)
        out = model(src, tokens, return_trace=True)
        source = prediction.source_labels or list(text)
        views = (
            AttentionView("encoder self-attention", prediction.encoder_attention, _mask_from(out.encoder_trace,
                          "self_attn"), source, source),
            AttentionView("decoder self-attention", prediction.self_attention, _mask_from(out.trace, "self_attn"),
                          labels, labels),
            AttentionView("cross-attention", prediction.cross_attention, _mask_from(out.trace, "cross_attn"),
                          labels, source),
        )  # fmt: skip
    else:
        out = model(tokens, return_trace=True)
        kind = "bidirectional" if family == "encoder" else "causal"
        views = (AttentionView(f"{kind} self-attention", prediction.self_attention, _mask_from(out.trace, "self_attn"),
                               labels, labels),)  # fmt: skip
        if family == "decoder":
            prompt = torch.tensor([vocab.encode(task.prompt(text))], device=device)  # (1, P)
            probs = torch.softmax(model(prompt).logits[0, -1], dim=-1).cpu()  # (V,)
            top = torch.topk(probs, min(top_k, probs.numel()))
            next_token = tuple((vocab.symbols[int(i)], float(p)) for p, i in zip(top.values, top.indices, strict=True))
    return FamilyExample(family, text, prediction.text, prediction.expected, views, next_token)


def untrained_model(task: Task, seed: int = 0) -> nn.Module:
    """A randomly initialised model of the task's family (default :class:`ModelSpec`), in eval mode: the fallback
    when no trained model is shipped. Its answers are meaningless; its masks are the real ones."""
    return build_model(model_config(task, ModelSpec()), seed=seed).eval()


def family_masks(length: int) -> dict[str, Tensor]:
    """The mask pattern of each family's attention for ``length`` positions (True = may attend) -> ``(L, L)`` each:
    bidirectional (encoder-only, and the encoder of encoder-decoders), causal (decoder self-attention),
    cross (every decoder position sees every encoder position)."""
    return {
        "encoder-only": torch.ones(length, length, dtype=torch.bool),
        "decoder-only": causal_mask(length),
        "enc-dec: decoder": causal_mask(length),
        "enc-dec: cross": cross_mask(length, length),
    }

