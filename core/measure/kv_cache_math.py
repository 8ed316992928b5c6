"""How big the KV cache is, from the formula and from real cache tensors, and what caching saves in time.

    kv_cache_bytes = 2 · layers · kv_heads · head_dim · context · batch · bytes_per_elem

The 2 counts keys and values; each layer keeps ``(batch, kv_heads, context, head_dim)`` of each (the shape of
``core.multihead.KVCache.k``). Multi-head attention has kv_heads = heads, grouped-query attention (GQA) fewer,
multi-query attention (MQA) one. :func:`real_cache_bytes` runs a small ``DecoderOnlyModel`` and sums
``element_size · numel`` of the tensors its caches really hold; tests check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from core.measure.timer import time_call
from core.models import DecoderConfig, DecoderOnlyModel, count_parameters

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


def kv_cache_bytes(
    layers: int, kv_heads: int, head_dim: int, context: int, batch: int = 1, bytes_per_elem: int = 2
) -> int:
    """Bytes of keys and values cached for ``context`` positions: 2 · L · H_kv · d · T · B · s."""
    for name, value in (("layers", layers), ("kv_heads", kv_heads), ("head_dim", head_dim), ("batch", batch),
                        ("bytes_per_elem", bytes_per_elem)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1 (got {value})")
    if context < 0:
        raise ValueError(f"context must be >= 0 (got {context})")
    return 2 * layers * kv_heads * head_dim * context * batch * bytes_per_elem


@dataclass(frozen=True)
class ModelShape:
    """The attention shape of a published model: what its KV cache depends on.

    sliding_window: the attention window when the model uses one (its rolling-buffer cache never holds more).
    """

    name: str
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    context: int  # the context length the model was trained for
    sliding_window: int | None = None
    source: str = ""

    @property
    def attention_kind(self) -> str:
        """"MHA", "MQA" or "GQA (g query heads per kv head)"."""
        if self.kv_heads == self.heads:
            return "MHA"
        if self.kv_heads == 1:
            return "MQA"
        return f"GQA ({self.heads // self.kv_heads} query heads per kv head)"


# Sources: the papers' architecture tables and the released config.json files.
# Llama 2 (Touvron et al. 2023, Table 1 + HF configs): 7B d_model 4096, 32 layers, 32 heads; 13B d_model 5120,
#   40 layers, 40 heads; 70B d_model 8192, 80 layers, 64 heads, num_key_value_heads 8 (GQA); context 4096.
# Llama 3 8B (Meta 2024, HF config): d_model 4096, 32 layers, 32 heads, 8 kv heads, context 8192.
# Mistral 7B (Jiang et al. 2023, Table 1): dim 4096, 32 layers, head_dim 128, 32 heads, 8 kv heads,
#   window_size 4096, context_len 8192.
# GPT-3 175B (Brown et al. 2020, Table 2.1): 96 layers, d_model 12288, 96 heads, d_head 128, n_ctx 2048 (MHA).
# Falcon-7B (TII 2023, HF config): hidden 4544, 32 layers, 71 heads (head_dim 64), multi_query -> 1 kv head, 2048.
PRESETS: dict[str, ModelShape] = {s.name: s for s in (
    ModelShape("Llama-2-7B", 32, 32, 32, 128, 4096, source="Touvron et al. 2023, Table 1; HF config.json"),
    ModelShape("Llama-2-13B", 40, 40, 40, 128, 4096, source="Touvron et al. 2023, Table 1; HF config.json"),
    ModelShape("Llama-2-70B", 80, 64, 8, 128, 4096, source="Touvron et al. 2023; HF config.json (8 kv heads)"),
    ModelShape("Llama-3-8B", 32, 32, 8, 128, 8192, source="Meta Llama 3 (2024); HF config.json"),
    ModelShape("Mistral-7B", 32, 32, 8, 128, 8192, sliding_window=4096, source="Jiang et al. 2023, Table 1"),
    ModelShape("Falcon-7B", 32, 71, 1, 64, 2048, source="TII Falcon-7B HF config.json (multi_query)"),
    ModelShape("GPT-3 175B", 96, 96, 96, 128, 2048, source="Brown et al. 2020, Table 2.1"),
)}


def cached_positions(context: int, sliding_window: int | None = None) -> int:
    """Positions the cache holds: all of them, or at most the window for a rolling-buffer cache."""
    return context if sliding_window is None else min(context, sliding_window)


def typical_gqa_heads(heads: int) -> int:
    """A GQA split to compare against when the model itself has none: 8 kv heads (Llama-2-70B, Mistral, Llama 3)
    when 8 divides H, else the largest divisor of H up to H / 4 (1 when H is prime)."""
    if heads > 8 and heads % 8 == 0:
        return 8
    return max(h for h in range(1, max(1, heads // 4) + 1) if heads % h == 0)


def sharing_comparison(
    layers: int, heads: int, kv_heads: int, head_dim: int, context: int, batch: int = 1, bytes_per_elem: int = 2
) -> dict[str, int]:
    """Cache bytes of one shape with MHA (H_kv = H), GQA (the model's own split, else :func:`typical_gqa_heads`) and
    MQA (H_kv = 1); the bar matching ``kv_heads`` is marked "★ this model"."""
    gqa = kv_heads if 1 < kv_heads < heads else typical_gqa_heads(heads)
    out = {}
    for kind, h in (("MHA", heads), ("GQA", gqa), ("MQA", 1)):
        label = f"{kind} ({h} kv head{'s' if h > 1 else ''})" + (" ★ this model" if h == kv_heads else "")
        out[label] = kv_cache_bytes(layers, h, head_dim, context, batch, bytes_per_elem)
    return out


def small_decoder(
    layers: int, heads: int, kv_heads: int, head_dim: int, max_len: int, dtype: torch.dtype = torch.float32,
    *, seed: int = 0,
) -> DecoderOnlyModel:
    """A seeded, untrained ``DecoderOnlyModel`` with d_model = heads · head_dim, in eval mode and ``dtype``."""
    cfg = DecoderConfig(vocab_size=64, d_model=heads * head_dim, n_heads=heads, n_kv_heads=kv_heads, n_layers=layers,
                        d_ff=2 * heads * head_dim, max_len=max_len)
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's random state
        torch.manual_seed(seed)
        return DecoderOnlyModel(cfg).eval().to(dtype)


@dataclass(frozen=True)
class CacheCheck:
    """Bytes held by real caches after a prefill and some decode steps, next to the formula's prediction.

    lengths: cached positions after each forward call; real_bytes / formula_bytes: the bytes at each of them.
    """

    lengths: list[int]
    real_bytes: list[int]
    formula_bytes: list[int]
    cache_shape: tuple[int, ...]  # shape of one layer's cached keys (B, H_kv, T, d)
    dtype: str


def predicted_cache_check_peak_bytes(
    layers: int, heads: int, kv_heads: int, head_dim: int, context: int, batch: int = 1,
    dtype: torch.dtype = torch.float32, *, decode_steps: int = 8,
) -> int:
    """Peak bytes of :func:`real_cache_bytes` from the shapes alone, so a page can refuse it before it runs.

    The larger of building the model (float32 weights and one weight's initialisation temporaries, then a cast one
    tensor at a time) and the prefill of T = context − decode_steps tokens: each layer's trace keeps three
    ``(B, H, T, T)`` score-sized tensors (raw, masked, weights) and its ``(B, T, ·)`` activations until the forward
    returns; the layer being computed holds three more score-sized temporaries (scaled scores, the masked softmax's
    two) and the ``(T, T)`` mask.
    """
    s = torch.empty((), dtype=dtype).element_size()
    with torch.device("meta"):  # the real model's shapes, nothing allocated
        model = small_decoder(layers, heads, kv_heads, head_dim, context)
    n_params, vocab = count_parameters(model)["total"], model.config.vocab_size
    largest = max(p.numel() for p in model.parameters())  # the largest single weight tensor
    d_model, d_ff, t = heads * head_dim, 2 * heads * head_dim, max(1, context - decode_steps)
    build = 4 * (n_params + largest) + (0 if s == 4 else s * largest)
    scores = batch * heads * t * t * s  # (B, H, T, T)
    activations = batch * t * (3 * heads * head_dim + 2 * kv_heads * head_dim + 6 * d_model + 2 * d_ff) * s
    prefill = s * n_params + layers * (3 * scores + activations) + 3 * scores + t * t + batch * t * vocab * s
    return max(build, prefill)


@torch.no_grad()
def real_cache_bytes(
    layers: int, heads: int, kv_heads: int, head_dim: int, context: int, batch: int = 1,
    dtype: torch.dtype = torch.float32, *, decode_steps: int = 8, seed: int = 0,
) -> CacheCheck:
    """Prefill ``context - decode_steps`` tokens, then decode the rest one at a time; after each forward call sum
    ``element_size · numel`` over every layer's cached k and v, and compute the formula for the same length."""
    if context < 1:
        raise ValueError(f"context must be >= 1 (got {context})")
    model = small_decoder(layers, heads, kv_heads, head_dim, context, dtype, seed=seed)
    prefill = max(1, context - decode_steps)
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, model.config.vocab_size, (batch, context), generator=gen)  # (B, T)
    caches = model.new_caches()
    lengths, real = [], []
    for start, stop in [(0, prefill)] + [(t, t + 1) for t in range(prefill, context)]:
        model(tokens[:, start:stop], caches=caches)
        lengths.append(caches[0].length)
        real.append(sum(c.nbytes for c in caches))
    itemsize = torch.empty((), dtype=dtype).element_size()
    formula = [kv_cache_bytes(layers, kv_heads, head_dim, t, batch, itemsize) for t in lengths]
    return CacheCheck(lengths, real, formula, tuple(caches[0].k.shape), str(dtype).removeprefix("torch."))


@dataclass(frozen=True)
class GenerationTiming:
    """seconds ``[new_tokens]`` to produce each token (entry 0 includes the prefill) and the tokens ``(B, T + new)``."""

    seconds: list[float]
    tokens: torch.Tensor


@torch.no_grad()
def time_generation(
    model: DecoderOnlyModel, prompt: torch.Tensor, new_tokens: int, *, use_cache: bool
) -> GenerationTiming:
    """Greedy-decode ``new_tokens`` after ``prompt (B, T)`` and time each step (``core.measure.timer``, one run:
    a step changes the cache, so it cannot be repeated; callers repeat whole generations and take the median).

    With the cache each step feeds one token and attends over the cached keys (O(T) attention work per token);
    without it every step reruns the whole sequence so far (O(T²) per token). Both give the same tokens.
    """
    times: list[float] = []
    caches = model.new_caches() if use_cache else None
    chosen: list[torch.Tensor] = []  # the token each step picked, (B, 1)

    def greedy_step(tokens: torch.Tensor) -> None:
        chosen.append(model(tokens, caches=caches).logits[:, -1].argmax(dim=-1, keepdim=True))  # (B, V) -> (B, 1)

    sequence, step_input = prompt, prompt
    for _ in range(new_tokens):
        step = partial(greedy_step, step_input if use_cache else sequence)
        times.append(time_call(step, prompt.device, repeats=1, warmup=False).median_s)
        next_token = chosen[-1]  # (B, 1)
        sequence = torch.cat([sequence, next_token], dim=1)
        step_input = next_token
    return GenerationTiming(times, sequence)
