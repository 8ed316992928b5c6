"""Autoregressive decoding, one token at a time, with or without the KV cache; and a trained model's prediction.

Each step turns the last position's logits z ``(V,)`` into a distribution and draws the next token:

    greedy          p = one_hot(argmax z)
    temperature T   p = softmax(z / T)              (T < 1 sharpens, T > 1 flattens)
    top-k           keep the k largest p, renormalise
    top-p (nucleus) keep the most likely tokens until their cumulative p reaches top_p, renormalise

and draws by inverse CDF: u ~ U(0, 1) from a seeded generator, token = first index whose cumulative p exceeds u.

Without a cache every step re-runs the whole prefix (cost ∝ t at step t); with it, each step runs only the new
token and attends to the cached keys/values of the earlier ones (cost ∝ 1 per layer, memory ∝ t).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from core.measure.timer import Timing, time_call
from core.models import EncoderDecoderModel, EncoderOnlyModel
from core.train.tasks import PromptTask, Task
from core.train.training import FAMILIES
from core.train.vocab import BOS, EOS, MASK


@dataclass(frozen=True)
class Sampling:
    """temperature 0 = greedy (argmax); top_k None = no cut; top_p 1.0 = no cut."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (got {self.temperature}); 0 means greedy")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None (got {self.top_k})")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (got {self.top_p})")


def next_token_probs(logits: Tensor, sampling: Sampling) -> Tensor:
    """logits ``(..., V)`` -> the distribution the next token is drawn from ``(..., V)`` (see module docstring)."""
    if sampling.temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    probs = torch.softmax(logits / sampling.temperature, dim=-1)  # (..., V)
    if sampling.top_k is not None and sampling.top_k < logits.shape[-1]:
        kth = torch.topk(probs, sampling.top_k, dim=-1).values[..., -1:]  # (..., 1)
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    if sampling.top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)  # (..., V)
        before = sorted_p.cumsum(-1) - sorted_p  # mass of the more likely tokens
        keep_sorted = before < sampling.top_p  # the top token is always kept
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        probs = torch.where(keep, probs, torch.zeros_like(probs))
    return probs / probs.sum(-1, keepdim=True)


def draw_token(probs: Tensor, generator: torch.Generator | None = None) -> tuple[int, float]:
    """probs ``(V,)`` -> (token, u): u ~ U(0, 1), token = first index whose cumulative probability exceeds u."""
    u = float(torch.rand((), generator=generator))
    cdf = probs.double().cumsum(0)  # (V,)
    token = int(torch.searchsorted(cdf, torch.tensor([u * float(cdf[-1])], dtype=cdf.dtype), right=True).item())
    return min(token, probs.shape[0] - 1), u


@dataclass(frozen=True)
class DecodeStep:
    """One generated token: logits ``(V,)`` of the model, probs ``(V,)`` it was drawn from, u the uniform draw,
    seconds (forward + draw), cache_bytes (bytes of the real K and V tensors of each layer; empty without cache)."""

    token: int
    logits: Tensor
    probs: Tensor
    u: float
    seconds: float
    cache_bytes: tuple[int, ...]


@dataclass(frozen=True)
class Decoding:
    """prompt and generated token ids, one :class:`DecodeStep` per generated token."""

    prompt: list[int]
    tokens: list[int]
    steps: list[DecodeStep]

    @property
    def seconds_per_token(self) -> float:
        """Median time of one step over the steps (``core.measure.timer.Timing``; robust to a first-call warm-up)."""
        return Timing.of([s.seconds for s in self.steps]).median_s if self.steps else 0.0


@torch.no_grad()
def decode(
    model: nn.Module,
    prompt: list[int],
    max_new_tokens: int,
    *,
    sampling: Sampling = Sampling(),
    use_cache: bool = True,
    seed: int = 0,
    stop_token: int | None = None,
    src: list[int] | None = None,
) -> Decoding:
    """Generate up to ``max_new_tokens`` after ``prompt`` (batch of one), stopping after ``stop_token``.

    Decoder-only models continue ``prompt``; an :class:`EncoderDecoderModel` encodes ``src`` once and its decoder
    continues ``prompt`` (usually ``[BOS]``). use_cache=False re-runs the whole prefix every step (the reference).
    """
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    seq2seq = isinstance(model, EncoderDecoderModel)
    memory = model.encode(torch.tensor([src], device=device))[0] if seq2seq else None  # (1, S, d_model)
    caches = model.new_caches() if use_cache else None
    run = (lambda x: model.decode(x, memory, caches=caches)) if seq2seq else (lambda x: model(x, caches=caches))
    tokens, steps = list(prompt), []
    step_input = torch.tensor([prompt], device=device)  # (1, T): the whole prompt fills the cache on step 1
    drawn: list[tuple[Tensor, Tensor, int, float]] = []  # each step's logits (V,), probs (V,), token, u

    def step(x: Tensor) -> None:
        logits = run(x).logits[0, -1]  # (V,)
        probs = next_token_probs(logits, sampling)
        drawn.append((logits, probs, *draw_token(probs.cpu(), generator)))

    for _ in range(max_new_tokens):
        x = step_input if use_cache else torch.tensor([tokens], device=device)  # (1, 1) or (1, T)
        seconds = time_call(partial(step, x), device, repeats=1, warmup=False).median_s  # forward + draw, one run
        logits, probs, token, u = drawn[-1]
        cache_bytes = tuple(c.nbytes for c in caches) if caches else ()
        steps.append(DecodeStep(token, logits.cpu(), probs.cpu(), u, seconds, cache_bytes))
        tokens.append(token)
        step_input = torch.tensor([[token]], device=device)  # (1, 1)
        if token == stop_token:
            break
    return Decoding(list(prompt), tokens[len(prompt) :], steps)


def model_family(model: nn.Module) -> str:
    """"decoder" | "seq2seq" | "encoder" for a model built from one of the FAMILIES."""
    return next(name for name, (_, cls) in FAMILIES.items() if type(model) is cls)


def decode_task(model: nn.Module, task: Task, text: str, **kwargs) -> Decoding:
    """Decode the answer to ``text`` (already checked with ``task.check_input``) for a decoder or seq2seq task;
    keyword arguments go to :func:`decode`. Generation stops at EOS or at the model's longest sequence (induction:
    after the rest of the repeat, len(text) - 1 tokens)."""
    vocab, limit = task.vocab, model.config.max_len
    if isinstance(task, PromptTask):
        prompt = vocab.encode(task.prompt(text))
        n_new = limit + 1 - len(prompt) if task.ends_with_eos else len(task.continuation(text))  # induction: fixed
        return decode(model, prompt, n_new, stop_token=vocab.id(EOS), **kwargs)
    return decode(model, [vocab.id(BOS)], limit, stop_token=vocab.id(EOS), src=vocab.encode(text), **kwargs)


@dataclass(frozen=True)
class Prediction:
    """A model's greedy answer and the attention that produced it.

    labels: tokens along the self-attention axes (decoder input, or encoder input for encoder-only models);
    self_attention ``(L, H, T, T)``; for seq2seq also cross_attention ``(L, H, T, S)`` (decoder queries × source
    keys), encoder_attention ``(L, H, S, S)`` and source_labels.
    """

    text: str
    expected: str | None
    labels: list[str]
    self_attention: Tensor
    cross_attention: Tensor | None = None
    encoder_attention: Tensor | None = None
    source_labels: list[str] | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.expected is None else self.text == self.expected


def _stack(traces, attr: str) -> Tensor:
    return torch.stack([getattr(layer, attr).weights[0] for layer in traces]).cpu()  # (L, H, Tq, Tk)


@torch.no_grad()
def predict(model: nn.Module, task: Task, text: str) -> Prediction:
    """The greedy answer of ``model`` to ``text`` with every layer's attention (``task.check_input`` raises first)."""
    task.check_input(text)
    model.eval()
    vocab, device, expected = task.vocab, next(model.parameters()).device, task.answer(text)
    if isinstance(model, EncoderOnlyModel):
        tokens = torch.tensor([vocab.encode(text)], device=device)  # (1, T)
        out = model(tokens, return_trace=True)
        guess = vocab.decode(out.logits[0].argmax(-1))
        filled = "".join(g if c == MASK else c for c, g in zip(text, guess, strict=True))
        return Prediction(filled, expected, list(text), _stack(out.trace, "self_attn"))
    generated = decode_task(model, task, text).tokens
    answer = vocab.decode(t for t in generated if t != vocab.id(EOS))
    if isinstance(model, EncoderDecoderModel):
        src = torch.tensor([vocab.encode(text)], device=device)  # (1, S)
        tgt = torch.tensor([([vocab.id(BOS)] + vocab.encode(answer))[: model.config.max_len]], device=device)
        out = model(src, tgt, return_trace=True)
        cross, encoder = _stack(out.trace, "cross_attn"), _stack(out.encoder_trace, "self_attn")
        labels = list(vocab.decode(tgt[0]))
        return Prediction(answer, expected, labels, _stack(out.trace, "self_attn"), cross, encoder, list(text))
    sequence = decoder_sequence(task, text, generated)
    out = model(torch.tensor([sequence], device=device), return_trace=True)
    return Prediction(answer, expected, list(vocab.decode(sequence)), _stack(out.trace, "self_attn"))


def decoder_sequence(task: Task, text: str, generated: list[int]) -> list[int]:
    """The token ids a decoder-only model reads to show its attention: the prompt, then its answer, without the last
    token (as in training, the last token is only a target)."""
    return (task.vocab.encode(task.prompt(text)) + list(generated))[:-1]


@dataclass(frozen=True)
class HeadInputs:
    """One head of one layer of a decoder-only model, on :func:`predict`'s sequence: ``labels`` (T tokens);
    q, k, v ``(T, d_k)`` as the head computed them (after W_Q, W_K, W_V, RoPE included for q and k); the head's
    own ``weights`` ``(T, T)`` (causal)."""

    labels: list[str]
    q: Tensor
    k: Tensor
    v: Tensor
    weights: Tensor


@torch.no_grad()
def head_inputs(model: nn.Module, task: Task, text: str, layer: int, head: int) -> HeadInputs:
    """Read head ``head`` of layer ``layer`` out of the decoder-only ``model``'s trace on ``text`` (its greedy answer
    appended, as :func:`predict` shows it). ``task.check_input`` raises first for bad input."""
    if isinstance(model, (EncoderOnlyModel, EncoderDecoderModel)):
        raise ValueError("head_inputs reads decoder-only models")
    task.check_input(text)
    model.eval()
    device = next(model.parameters()).device
    sequence = decoder_sequence(task, text, decode_task(model, task, text).tokens)
    trace = model(torch.tensor([sequence], device=device), return_trace=True).trace[layer].self_attn
    q, k, v, w = (t[0, head].cpu() for t in (trace.q, trace.k, trace.v, trace.weights))  # (T, d_k) ×3, (T, T)
    return HeadInputs(list(task.vocab.decode(sequence)), q, k, v, w)

