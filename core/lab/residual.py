"""The residual stream, step by step, and the experiments around one transformer block.

- :func:`walk_layer` replays a :class:`core.blocks.TransformerLayer` sub-layer by sub-layer (norm, attention, add,
  FFN, ...) with the layer's own modules and returns every intermediate tensor; its last step equals ``layer(x)``.
- :func:`token_stats` / :func:`norm_comparison`: per-token mean and std before and after LayerNorm and RMSNorm.
- :func:`activation_curve`: the FFN's non-linearity, read from a 1-wide :class:`FeedForward` with unit weights.
- :func:`parameter_counts`: parameters owned by each sub-module, read from the live module.
- :func:`depth_profile`: residual-stream size and gradient norm through a deep post-LN or pre-LN stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.blocks import DecoderLayer, EncoderLayer, FeedForward, LayerNorm, RMSNorm, TransformerLayer
from core.lab.toy_inputs import seeded_embeddings, seeded_module
from core.masks import causal_mask
from core.models import count_parameters

LAYER_KINDS: tuple[str, ...] = ("encoder", "decoder")


@dataclass(frozen=True)
class ResidualStep:
    """One intermediate of a layer: its name, the tensor, and what produced it (``(B, T, width)`` or per-head)."""

    name: str
    tensor: Tensor
    note: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)

    @property
    def token_rms(self) -> float:
        """Mean over tokens of the per-token root-mean-square √(mean_j x_j²) (per head and query for weights)."""
        return float(self.tensor.pow(2).mean(dim=-1).sqrt().mean())


@torch.no_grad()
def walk_layer(
    layer: TransformerLayer,
    x: Tensor,
    memory: Tensor | None = None,
    self_mask: Tensor | None = None,
    memory_mask: Tensor | None = None,
) -> list[ResidualStep]:
    """Every intermediate of ``layer(x, memory, self_mask, memory_mask)`` in order (eval mode: no dropout).

    post-LN: x -> f(x) -> x + f(x) -> Norm.   pre-LN: x -> Norm -> f(Norm(x)) -> x + f(...).
    Attention sub-layers also report q (B, H, T, d_k) and the weights (B, H, T, S); the FFN its hidden (B, T, d_ff).
    """
    steps = [ResidualStep("input x", x, "residual stream entering the layer")]

    def sublayer(x: Tensor, norm: nn.Module, label: str, run) -> Tensor:
        h = x
        if layer.norm_first:
            h = norm(x)
            steps.append(ResidualStep(f"{type(norm).__name__} (before {label})", h, "pre-LN normalises the input"))
        out = run(h)
        steps.append(ResidualStep(f"{label} output", out, "the sub-layer's update"))
        x = x + out
        steps.append(ResidualStep("add: x + update", x, "residual connection"))
        if not layer.norm_first:
            x = norm(x)
            steps.append(ResidualStep(f"{type(norm).__name__} (after {label})", x, "post-LN normalises the sum"))
        return x

    def attend(module, h: Tensor, context: Tensor | None, mask: Tensor | None, label: str) -> Tensor:
        out, trace = module(h, context, mask)
        steps.append(ResidualStep(f"{label}: queries per head", trace.q, "split into heads"))
        steps.append(ResidualStep(f"{label}: weights", trace.weights, "softmax over keys"))
        return out

    def feed_forward(h: Tensor) -> Tensor:
        steps.append(ResidualStep("FFN hidden", layer.ff.hidden(h), f"widened to d_ff, {layer.ff.activation}"))
        return layer.ff(h)

    x = sublayer(x, layer.self_attn_norm, "self-attention",
                 lambda h: attend(layer.self_attn, h, None, self_mask, "self-attention"))
    if layer.cross_attn is not None:
        x = sublayer(x, layer.cross_attn_norm, "cross-attention",
                     lambda h: attend(layer.cross_attn, h, memory, memory_mask, "cross-attention"))
    sublayer(x, layer.ff_norm, "FFN", feed_forward)
    return steps


def make_layer(kind: str, d_model: int, n_heads: int, d_ff: int, **kwargs) -> TransformerLayer:
    """An :class:`EncoderLayer` ("encoder") or a :class:`DecoderLayer` with cross-attention ("decoder")."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; choose one of {LAYER_KINDS}")
    layer_class = EncoderLayer if kind == "encoder" else DecoderLayer
    return layer_class(d_model, n_heads, d_ff, **kwargs)


@torch.no_grad()
def sentence_walk(
    words: list[str], kind: str = "encoder", *, norm_first: bool = False, d_model: int = 64, n_heads: int = 4,
    d_ff: int = 256, seed: int = 0, device: torch.device | str = "cpu",
) -> list[ResidualStep]:
    """Walk a sentence (seeded word vectors, ``(1, T, d_model)``) through one seeded layer.

    The decoder layer reads the sentence causally and cross-attends to a seeded encoder layer's output for the same
    sentence (as if the source and the target were the same text), so every tensor has a real origin. Weights are
    drawn on the CPU (the same numbers on every device), then the layer runs on ``device``.
    """
    x = seeded_embeddings(words, d_model, seed)[None].to(device)  # (1, T, d_model)
    build = lambda which: make_layer(which, d_model, n_heads, d_ff, norm_first=norm_first)  # noqa: E731
    encoder = seeded_module(lambda: build("encoder"), seed).to(device).eval()
    layer = encoder if kind == "encoder" else seeded_module(lambda: build(kind), seed + 1).to(device).eval()
    if kind == "encoder":
        return walk_layer(layer, x)
    memory, _ = encoder(x)  # (1, T, d_model): the "source" the decoder cross-attends to
    return walk_layer(layer, x, memory, causal_mask(x.shape[1], device=device))


def layer_parameter_counts(kind: str, d_model: int, n_heads: int, d_ff: int, **kwargs) -> dict[str, int]:
    """:func:`parameter_counts` of one layer built on the meta device (shapes only, nothing allocated)."""
    with torch.device("meta"):
        return parameter_counts(make_layer(kind, d_model, n_heads, d_ff, **kwargs))


def token_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-token mean and (biased) std over the feature dimension: ``(T, d)`` -> ``((T,), (T,))``."""
    return x.mean(dim=-1), x.std(dim=-1, unbiased=False)


def spread_tokens(length: int, d_model: int, offset: float, generator: torch.Generator) -> Tensor:
    """Token t = μ_t + σ_t · N(0, I): means spread over [-offset, offset], stds from 0.5 to 4. -> ``(T, d)``."""
    means = torch.linspace(-offset, offset, length)[:, None]  # (T, 1)
    stds = torch.logspace(torch.log10(torch.tensor(0.5)), torch.log10(torch.tensor(4.0)), length)[:, None]
    return means + stds * torch.randn(length, d_model, generator=generator)  # (T, d)


@torch.no_grad()
def norm_comparison(x: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """Per-token (mean, std) of x ``(T, d)``, LayerNorm(x) and RMSNorm(x) (fresh modules: γ = 1, β = 0)."""
    d = x.shape[-1]
    return {"input": token_stats(x), "LayerNorm": token_stats(LayerNorm(d)(x)), "RMSNorm": token_stats(RMSNorm(d)(x))}


@torch.no_grad()
def activation_curve(activation: str, xs: Tensor) -> Tensor:
    """The FFN non-linearity at the points ``xs (P,)``, computed by a :class:`FeedForward` with d_model = d_ff = 1,
    unit weights and zero biases: relu(x), gelu(x), and for SwiGLU SiLU(x) · x (gate and value both see x)."""
    ff = FeedForward(1, 1, activation)
    for module in ff.modules():
        if isinstance(module, nn.Linear):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return ff.hidden(xs[:, None])[:, 0]  # (P,)


def ffn_parameters(d_model: int, d_ff: int, activation: str) -> int:
    """Parameters of ``FeedForward(d_model, d_ff, activation)``, counted on the meta device (nothing allocated)."""
    with torch.device("meta"):
        return count_parameters(FeedForward(d_model, d_ff, activation))["total"]


def parameter_counts(module: nn.Module) -> dict[str, int]:
    """Parameters directly owned by each sub-module (e.g. ``self_attn.w_q``), in module order; sums to the total.

    ``core.models.count_parameters(module, by="module")`` without its "total"."""
    counts = count_parameters(module, by="module")
    del counts["total"]
    return counts


@dataclass(frozen=True)
class DepthProfile:
    """A deep stack at initialisation: residual RMS after each layer ``(L+1,)`` (index 0 = input) and the gradient
    norm of each layer's parameters ``(L,)`` for the loss mean(output · target)."""

    norm_first: bool
    residual_rms: Tensor
    grad_norm: Tensor


def depth_profile(
    n_layers: int, d_model: int, n_heads: int, d_ff: int, *, norm_first: bool, length: int = 16, seed: int = 0,
    causal: bool = False, device: torch.device | str = "cpu",
) -> DepthProfile:
    """Forward and backward through ``n_layers`` freshly initialised encoder layers (pre-LN adds the final norm).
    Weights and inputs are drawn on the CPU, then run on ``device``; the profile comes back on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    layers = seeded_module(
        lambda: nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, norm_first=norm_first) for _ in range(n_layers)), seed
    ).to(device)
    x = torch.randn(1, length, d_model, generator=generator).to(device)  # (1, T, d)
    target = torch.randn(1, length, d_model, generator=generator).to(device)
    mask = causal_mask(length, device=device) if causal else None
    rms = [x.pow(2).mean(-1).sqrt().mean()]
    for layer in layers:
        x, _ = layer(x, mask)  # (1, T, d)
        rms.append(x.pow(2).mean(-1).sqrt().mean())
    out = LayerNorm(d_model).to(device)(x) if norm_first else x  # pre-LN models end with a final norm (GPT-2's ln_f)
    (out * target).mean().backward()
    grads = [torch.sqrt(sum(p.grad.pow(2).sum() for p in layer.parameters())) for layer in layers]
    return DepthProfile(norm_first, torch.stack(rms).detach().cpu(), torch.stack(grads).detach().cpu())
