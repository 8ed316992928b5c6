"""Three transformer families on one stack: encoder-only (BERT), decoder-only (GPT), encoder-decoder (2017 paper).

    tokens (B, T) -> embedding · √d_model (+ absolute positions) -> dropout -> N layers -> final norm (pre-LN)
           -> hidden (B, T, d_model) -> head -> logits (B, T, vocab_size)

Every forward computes each layer's :class:`~core.blocks.LayerTrace` (Q, K, V, scores, weights per head and the
residual stream around each sub-layer); ``return_trace=True`` hands them back. There is no second "traced" copy.

Incremental decoding (decoder-only)::

    caches = model.new_caches()                             # one KVCache per layer
    out = model(prompt, caches=caches)                      # (B, T) prompt: fills the caches
    out = model(next_token, caches=caches)                  # (B, 1): positions continue at caches[0].length
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.blocks import ACTIVATIONS, NORMS, FeedForward, LayerNorm, LayerTrace, RMSNorm, TransformerStack, make_norm
from core.masks import causal_mask, cross_mask, padding_mask
from core.multihead import KVCache, MultiHeadAttention, check_heads
from core.positional import POSITIONALS, ROPE_LAYOUTS, LearnedPositionalEmbedding, RelativePositionBias


@dataclass(frozen=True)
class TransformerConfig:
    """Hyper-parameters shared by the three model families (checked on construction).

    positional: "sinusoidal" | "learned" (added to embeddings) | "rope" (rotates q, k) | "alibi" | "relative"
    (T5 buckets; both biases on the self-attention scores) | "none". norm_first: False = post-LN (2017), True = pre-LN.
    n_kv_heads: key/value heads (None = n_heads; 1 = multi-query). tie_weights: output head reuses the embedding.

    Switches that pretrained checkpoints need (:mod:`core.hf_import`); the defaults are our own models' choices:
    norm_eps: the ε of every norm (BERT 1e-12, Llama 1e-6). embedding_scale: multiply embeddings by √d_model (the
    2017 paper; GPT-2, BERT and Llama do not). type_vocab_size: > 0 adds BERT's token-type (segment) vector of
    type 0 to every token. embedding_norm: normalise the embeddings (+ positions) before the first layer (BERT).
    lm_head_bias: a bias on the output logits (BERT). rope_base, rope_layout: see
    :class:`~core.positional.RotaryEmbedding` (Llama: "half").
    """

    vocab_size: int = 32
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    norm_first: bool = True
    activation: str = "gelu"
    norm: str = "layernorm"
    positional: str = "sinusoidal"
    n_kv_heads: int | None = None
    bias: bool = True
    tie_weights: bool = True
    norm_eps: float = 1e-5
    embedding_scale: bool = True
    type_vocab_size: int = 0
    embedding_norm: bool = False
    lm_head_bias: bool = False
    rope_base: float = 10000.0
    rope_layout: str = "interleaved"

    def __post_init__(self) -> None:
        check_heads(self.d_model, self.n_heads, self.n_kv_heads)
        for name, value, allowed in (
            ("positional", self.positional, POSITIONALS),
            ("activation", self.activation, ACTIVATIONS),
            ("norm", self.norm, NORMS),
            ("rope_layout", self.rope_layout, ROPE_LAYOUTS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {allowed}")
        if self.positional == "rope" and self.d_k % 2:
            raise ValueError(f"RoPE needs an even head width; d_model / n_heads = {self.d_k}")
        for name in ("vocab_size", "d_model", "n_layers", "d_ff", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout})")
        if self.norm_eps <= 0 or self.rope_base <= 1 or self.type_vocab_size < 0:
            raise ValueError(f"need norm_eps > 0, rope_base > 1, type_vocab_size >= 0 (got {self.norm_eps}, "
                             f"{self.rope_base}, {self.type_vocab_size})")  # fmt: skip

    @property
    def d_k(self) -> int:
        """Width of one head, d_model / n_heads."""
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class EncoderConfig(TransformerConfig):
    """Config of an :class:`EncoderOnlyModel` (bidirectional, masked-LM head)."""


@dataclass(frozen=True)
class DecoderConfig(TransformerConfig):
    """Config of a :class:`DecoderOnlyModel` (causal LM)."""


@dataclass(frozen=True)
class Seq2SeqConfig(TransformerConfig):
    """Config of an :class:`EncoderDecoderModel`: n_layers encoder layers and n_layers decoder layers, one shared
    vocabulary (source, target and output head share the embedding when tie_weights, as in the paper)."""


@dataclass(frozen=True)
class ModelOutput:
    """logits ``(B, T, V)``; hidden (final residual stream, after the final norm) ``(B, T, d_model)``;
    trace: one :class:`LayerTrace` per (decoder) layer when asked; encoder_trace for encoder-decoder models."""

    logits: Tensor
    hidden: Tensor
    trace: list[LayerTrace] | None = None
    encoder_trace: list[LayerTrace] | None = None


class TokenEmbedding(nn.Module):
    """tokens ``(B, T)`` long -> ``(B, T, d_model)``, scaled by √d_model as in the paper (weights ~ N(0, 1/d_model),
    so embeddings have unit scale and a tied output head starts with unit-scale logits).

    scale=False: E[tokens] unscaled (GPT-2, BERT, Llama). n_types > 0: BERT's token-type table ``(n_types, d_model)``;
    every token is of type 0 (one segment), so its row 0 is added to every embedding.
    """

    def __init__(self, vocab_size: int, d_model: int, *, scale: bool = True, n_types: int = 0) -> None:
        super().__init__()
        self.scale = math.sqrt(d_model) if scale else None
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) / math.sqrt(d_model))
        self.token_types = nn.Embedding(n_types, d_model) if n_types else None

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.weight[tokens]  # (B, T, d_model)
        if self.scale is not None:
            x = x * self.scale
        return x if self.token_types is None else x + self.token_types.weight[0]  # (B, T, d_model)


def count_parameters(module: nn.Module, *, by: str = "component") -> dict[str, int]:
    """Trainable parameter counts read from a live module, each shared (tied) tensor counted once.

    by="component": {"token embedding", "positional", "attention", "feed-forward", "norm", "other", "total"}
    (zero-count groups omitted; "other" is e.g. an untied output head). by="child": per direct child + "total".
    by="module": per sub-module, the parameters it owns directly (dotted names, e.g. "self_attn.w_q"; the root
    under its class name), in module order, + "total".
    """
    kinds = {
        TokenEmbedding: "token embedding", nn.Embedding: "token embedding", MultiHeadAttention: "attention",
        FeedForward: "feed-forward", LayerNorm: "norm", RMSNorm: "norm", nn.LayerNorm: "norm",
        LearnedPositionalEmbedding: "positional", RelativePositionBias: "positional",
    }  # fmt: skip
    seen: set[int] = set()
    counts: dict[str, int] = {}

    def add(group: str, params) -> None:
        for p in params:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                counts[group] = counts.get(group, 0) + p.numel()

    if by not in ("component", "child", "module"):
        raise ValueError(f"by must be 'component', 'child' or 'module' (got {by!r})")
    if by == "child":
        for name, child in module.named_children():
            add(name, child.parameters())
    elif by == "module":
        for name, sub in module.named_modules():
            add(name or type(module).__name__, sub.parameters(recurse=False))
    else:
        for sub in module.modules():  # parents before children: a Linear inside attention counts as attention
            if type(sub) in kinds:
                add(kinds[type(sub)], sub.parameters())
    add("other", module.parameters())  # whatever no group claimed
    counts["total"] = sum(counts.values())
    return counts


class _LanguageModel(nn.Module):
    """Shared parts: the token embedding, the output head (tied or not) and parameter counts."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embedding = TokenEmbedding(
            cfg.vocab_size, cfg.d_model, scale=cfg.embedding_scale, n_types=cfg.type_vocab_size
        )
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=cfg.lm_head_bias)
        if cfg.tie_weights:
            self.lm_head.weight = self.embedding.weight  # logits = h Eᵀ

    def n_parameters(self) -> int:
        """Trainable parameters (a tied embedding counted once)."""
        return count_parameters(self)["total"]

    def parameter_counts(self, by: str = "component") -> dict[str, int]:
        """See :func:`count_parameters`."""
        return count_parameters(self, by=by)


class DecoderOnlyModel(_LanguageModel):
    """GPT-style causal language model."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__(cfg)
        self.decoder = TransformerStack(cfg, causal=True, cross_attention=False)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per layer, for incremental decoding."""
        return [KVCache() for _ in self.decoder.layers]

    def forward(
        self, tokens: Tensor, *, caches: list[KVCache] | None = None, return_trace: bool = False
    ) -> ModelOutput:
        """tokens ``(B, T)`` long -> ModelOutput(logits ``(B, T, V)``, hidden, trace).

        With ``caches`` (from :meth:`new_caches`), ``tokens`` are the *next* T tokens after the ``caches[0].length``
        already cached; the caches are extended in place. Token-by-token output equals the full forward.
        """
        start = caches[0].length if caches else 0
        mask = causal_mask(tokens.shape[1], start + tokens.shape[1], device=tokens.device)  # (T, start + T)
        hidden, traces = self.decoder(self.embedding(tokens), mask, caches=caches)
        return ModelOutput(self.lm_head(hidden), hidden, traces if return_trace else None)

    @torch.no_grad()
    def generate(
        self,
        tokens: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue ``tokens (B, T)`` by ``max_new_tokens`` using the KV cache -> ``(B, T + max_new_tokens)``.

        temperature 0 = greedy (argmax); top_k keeps the k most likely tokens. Call ``model.eval()`` first.
        """
        caches, generated, step_input = self.new_caches(), [tokens], tokens
        for _ in range(max_new_tokens):
            logits = self(step_input, caches=caches).logits[:, -1]  # (B, V)
            step_input = sample_next_token(logits, temperature=temperature, top_k=top_k, generator=generator)
            generated.append(step_input)  # (B, 1)
        return torch.cat(generated, dim=1)


def sample_next_token(
    logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """logits ``(B, V)`` -> next token ``(B, 1)``: argmax if temperature == 0, else a sample from
    softmax(logits / temperature) restricted to the top_k logits."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)


class EncoderOnlyModel(_LanguageModel):
    """BERT-style bidirectional encoder with a masked-LM head (dense -> GELU -> norm -> vocab projection)."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__(cfg)
        self.encoder = TransformerStack(cfg, causal=False, cross_attention=False)
        gelu = nn.GELU(approximate="tanh" if cfg.activation == "gelu_tanh" else "none")
        self.mlm_transform = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_model), gelu, make_norm(cfg.norm, cfg.d_model, cfg.norm_eps)
        )

    def forward(self, tokens: Tensor, *, lengths: Tensor | None = None, return_trace: bool = False) -> ModelOutput:
        """tokens ``(B, T)`` long, lengths ``(B,)`` real tokens per row (the rest is padding, never attended to)
        -> ModelOutput(logits ``(B, T, V)`` for every position, hidden ``(B, T, d_model)``, trace)."""
        mask = None if lengths is None else padding_mask(lengths.to(tokens.device), tokens.shape[1])  # (B, 1, 1, T)
        hidden, traces = self.encoder(self.embedding(tokens), mask)
        logits = self.lm_head(self.mlm_transform(hidden))  # (B, T, V)
        return ModelOutput(logits, hidden, traces if return_trace else None)


class EncoderDecoderModel(_LanguageModel):
    """The 2017 Transformer: an encoder reads the source; a causal decoder cross-attends to it."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__(cfg)
        self.encoder = TransformerStack(cfg, causal=False, cross_attention=False)
        self.decoder = TransformerStack(cfg, causal=True, cross_attention=True)

    def encode(self, src: Tensor, *, src_lengths: Tensor | None = None) -> tuple[Tensor, list[LayerTrace]]:
        """src ``(B, S)`` long -> (memory ``(B, S, d_model)``, encoder LayerTraces)."""
        mask = None if src_lengths is None else padding_mask(src_lengths.to(src.device), src.shape[1])  # (B,1,1,S)
        return self.encoder(self.embedding(src), mask)

    def decode(
        self,
        tgt_in: Tensor,
        memory: Tensor,
        *,
        src_lengths: Tensor | None = None,
        caches: list[KVCache] | None = None,
        return_trace: bool = False,
    ) -> ModelOutput:
        """tgt_in ``(B, T)`` (target shifted right), memory ``(B, S, d_model)`` -> logits ``(B, T, V)``.

        ``caches`` (one KVCache per decoder layer) enable token-by-token decoding, as in DecoderOnlyModel.
        """
        start = caches[0].length if caches else 0
        T, S = tgt_in.shape[1], memory.shape[1]
        self_mask = causal_mask(T, start + T, device=tgt_in.device)  # (T, start + T)
        lengths = None if src_lengths is None else src_lengths.to(tgt_in.device)
        memory_mask = None if lengths is None else cross_mask(T, S, lengths)  # (B, 1, T, S)
        hidden, traces = self.decoder(
            self.embedding(tgt_in), self_mask, memory=memory, memory_mask=memory_mask, caches=caches
        )
        return ModelOutput(self.lm_head(hidden), hidden, traces if return_trace else None)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per decoder layer (the cross-attention is recomputed from memory)."""
        return [KVCache() for _ in self.decoder.layers]

    def forward(
        self, src: Tensor, tgt_in: Tensor, *, src_lengths: Tensor | None = None, return_trace: bool = False
    ) -> ModelOutput:
        """src ``(B, S)``, tgt_in ``(B, T)`` -> ModelOutput(logits ``(B, T, V)``, trace = decoder layers,
        encoder_trace = encoder layers when return_trace)."""
        memory, encoder_traces = self.encode(src, src_lengths=src_lengths)
        out = self.decode(tgt_in, memory, src_lengths=src_lengths, return_trace=return_trace)
        return ModelOutput(out.logits, out.hidden, out.trace, encoder_traces if return_trace else None)
