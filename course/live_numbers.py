"""The numbers lessons state about the model, each computed by the live core: the whitelisted `RESOLVERS`.

A lesson never types a number in: `{{ mha_params(d_model=512, n_heads=8) }}` calls :func:`mha_params` here
(:mod:`course.placeholders` parses and formats the call). No resolver re-derives a formula:

- parameter counts build the real core module on the ``meta`` device (real shapes, no memory, instant) and read
  it with the one counter, ``core.models.count_parameters``;
- KV-cache bytes come from ``core.measure.kv_cache_math.kv_cache_bytes``; attention memory from
  ``core.measure.memory``;
- statistics (score spread, softmax peak) are measured on ``core.attention.attention``.

torch and the core are imported inside each resolver, so parsing and searching lessons need neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

# ---------------------------------------------------------------- parameter counts


def _n_params(build: Callable[[], Any]) -> int:
    """core.models.count_parameters of the module `build()` makes, built on the `meta` device."""
    import torch

    from core.models import count_parameters

    with torch.device("meta"):
        module = build()
    return count_parameters(module)["total"]


def mha_params(d_model: int, n_heads: int, n_kv_heads: int | None = None, bias: bool = True) -> int:
    """Parameters of core.multihead.MultiHeadAttention (W_Q, W_K, W_V, W_O and their biases)."""
    from core.multihead import MultiHeadAttention

    return _n_params(lambda: MultiHeadAttention(d_model, n_heads, n_kv_heads=n_kv_heads, bias=bias))


def ffn_params(d_model: int, d_ff: int, activation: str = "relu", bias: bool = True) -> int:
    """Parameters of core.blocks.FeedForward."""
    from core.blocks import FeedForward

    return _n_params(lambda: FeedForward(d_model, d_ff, activation=activation, bias=bias))


def moe_ffn_params(d_model: int, d_ff: int, n_experts: int, activation: str = "swiglu", bias: bool = False) -> int:
    """Parameters of `n_experts` core.blocks.FeedForward experts (the router's few numbers left out)."""
    from torch import nn

    from core.blocks import FeedForward

    return _n_params(
        lambda: nn.ModuleList(FeedForward(d_model, d_ff, activation=activation, bias=bias) for _ in range(n_experts))
    )


def mha_weight_bytes(d_model: int, n_heads: int, bits: int, n_kv_heads: int | None = None) -> float:
    """Bytes of a bias-free core MultiHeadAttention's weights stored at `bits` bits per parameter."""
    return mha_params(d_model, n_heads, n_kv_heads=n_kv_heads, bias=False) * bits / 8


def lora_params(d_in: int, d_out: int, rank: int) -> int:
    """Trainable parameters of a LoRA update B·A: A (rank × d_in) then B (d_out × rank), as bias-free linear maps."""
    from torch import nn

    return _n_params(lambda: nn.Sequential(nn.Linear(d_in, rank, bias=False), nn.Linear(rank, d_out, bias=False)))


def decoder_model_params(vocab_size: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, **config: Any) -> int:
    """Parameters of a core.models.DecoderOnlyModel built from a DecoderConfig (tied weights counted once)."""
    from core.models import DecoderConfig, DecoderOnlyModel

    cfg = DecoderConfig(vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff, **config)
    return _n_params(lambda: DecoderOnlyModel(cfg))


def patch_embedding_params(patch_size: int, d_model: int, channels: int = 3) -> int:
    """Parameters of core.vit.PatchEmbedding (one linear map C·p·p -> d_model, with bias)."""
    from core.vit import PatchEmbedding

    return _n_params(lambda: PatchEmbedding(patch_size, d_model, channels))


def layernorm_params(d_model: int) -> int:
    """Parameters of core.blocks.LayerNorm (gain and bias)."""
    from core.blocks import LayerNorm

    return _n_params(lambda: LayerNorm(d_model))


def encoder_layer_params(d_model: int, n_heads: int, d_ff: int) -> int:
    """Parameters of one core.blocks.EncoderLayer."""
    from core.blocks import EncoderLayer

    return _n_params(lambda: EncoderLayer(d_model, n_heads, d_ff))


def decoder_layer_params(d_model: int, n_heads: int, d_ff: int) -> int:
    """Parameters of one core.blocks.DecoderLayer (self-attention, cross-attention, FFN, three norms)."""
    from core.blocks import DecoderLayer

    return _n_params(lambda: DecoderLayer(d_model, n_heads, d_ff))


# ---------------------------------------------------------------- memory


def attention_matrix_bytes(seq_len: int, n_heads: int = 1, batch: int = 1, dtype: str = "float32") -> int:
    """Bytes of the (B, H, n, n) score matrix S that standard attention writes for n tokens
    (core.measure.memory.naive_attention_traffic; S does not depend on the head width)."""
    import torch

    from core.measure.memory import naive_attention_traffic

    traffic = naive_attention_traffic(batch, n_heads, seq_len, seq_len, 1, getattr(torch, dtype))
    return traffic.writes["S"]


def attention_peak_bytes(path: str, seq_len: int, n_heads: int, d_head: int, batch: int = 1) -> int:
    """Peak bytes core.measure.memory predicts for one float32 attention call: path "naive" or "tiled" (default blocks)."""
    from core.measure.memory import predicted_naive_peak_bytes, predicted_tiled_peak_bytes

    predict = {"naive": predicted_naive_peak_bytes, "tiled": predicted_tiled_peak_bytes}[path]
    return predict(batch, n_heads, seq_len, seq_len, d_head)


def kv_cache_bytes_by_dtype(
    n_layers: int, n_kv_heads: int, d_head: int, seq_len: int, batch: int = 1, dtype: str = "float16"
) -> int:
    """core.measure.kv_cache_math.kv_cache_bytes for `seq_len` cached positions, with the element type by name."""
    from core.measure.kv_cache_math import DTYPE_BYTES, kv_cache_bytes

    return kv_cache_bytes(n_layers, n_kv_heads, d_head, seq_len, batch, DTYPE_BYTES[dtype])


# ---------------------------------------------------------------- shapes and measured statistics


def vit_tokens(image_size: int, patch_size: int, cls_token: bool = True) -> int:
    """Sequence length of core.vit: the ViTConfig's patch count, plus one for [CLS]."""
    from core.vit import ViTConfig

    return ViTConfig(image_size=image_size, patch_size=patch_size).n_patches + int(cls_token)


def _random_qk(d_k: int, n_q: int, n_k: int, seed: int) -> tuple[Any, Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n_q, d_k, generator=gen), torch.randn(n_k, d_k, generator=gen)  # unit-variance entries


def dot_product_std(d_k: int, scaled: bool = False, n: int = 96, seed: int = 0) -> float:
    """Measured std of the n×n scores core.attention.attention computes for random unit-variance q, k."""
    from core.attention import attention

    q, k = _random_qk(d_k, n, n, seed)
    trace = attention(q, k, k, scoring="scaled_dot")
    return float((trace.scaled_scores if scaled else trace.raw_scores).std())


def softmax_peak(d_k: int, n_keys: int, scaled: bool = False, n_queries: int = 512, seed: int = 0) -> float:
    """Mean over random queries of the largest softmax weight in a row (1/n_keys = flat, 1 = one-hot)."""
    from core.attention import attention

    q, k = _random_qk(d_k, n_queries, n_keys, seed)
    trace = attention(q, k, k, scoring="scaled_dot" if scaled else "dot")
    return float(trace.weights.max(dim=-1).values.mean())


def alibi_slope(n_heads: int, head: int = 0) -> float:
    """The ALiBi slope core.positional.alibi_slopes gives head `head` (0-based) of `n_heads`."""
    from core.positional import alibi_slopes

    return float(alibi_slopes(n_heads)[head])


# ---------------------------------------------------------------- the shipped English models


def _head_roles(model: str):
    """core.lab.text_head_roles.text_model_head_roles of a shipped English model (32 held-out sentences, as the
    multi-head page shows them), computed once per process."""
    from core.lab.text_head_roles import text_model_head_roles
    from core.text_model import load_text_model

    if model not in _ROLES_CACHE:
        _ROLES_CACHE[model] = text_model_head_roles(load_text_model(model), n_sentences=32)
    return _ROLES_CACHE[model]


_ROLES_CACHE: dict = {}


def best_head_score(model: str, role: str) -> float:
    """The highest score any head of the shipped ``model`` gets on ``role`` (core.head_roles)."""
    return float(_head_roles(model).scores[role].max())


def best_head_layer(model: str, role: str) -> int:
    """The layer (0-based) of the head with the highest ``role`` score."""
    scores = _head_roles(model).scores[role]
    return int(scores.argmax()) // scores.shape[1]


def best_head_index(model: str, role: str) -> int:
    """The head (0-based, within its layer) with the highest ``role`` score."""
    scores = _head_roles(model).scores[role]
    return int(scores.argmax()) % scores.shape[1]


def model_card_number(model: str, field: str) -> float:
    """A held-out number from a shipped model's card (measured by scripts/train_models.py on the test split), e.g.
    field="perplexity", "bigram_perplexity", "top1"; or "n_parameters", "training_time_s", "tokens_seen"."""
    from core.train.checkpoints import MODELS_DIR, read_card

    card = read_card(MODELS_DIR / model)
    return card["held_out"][field] if field in card["held_out"] else card[field]


# ---------------------------------------------------------------- the English models' byte-level BPE


@cache
def _bpe(tokenizer: str):
    """A shipped BPE by name, loaded once per process."""
    from core.text_model import load_tokenizer

    return load_tokenizer(tokenizer)


def bpe_token_count(text: str, max_merges: int | None = None, tokenizer: str = "english-bpe") -> int:
    """len(core.tokenizer.ByteLevelBPE.encode(text, max_merges)) with a shipped BPE (None: every merge)."""
    return len(_bpe(tokenizer).encode(text, max_merges=max_merges))


def bpe_merge_number(left: str, right: str, tokenizer: str = "english-bpe") -> int:
    """The learned merge left + right (readable text, " " for the space) counted from 1: its rank + 1, the smallest
    N at which encode(..., max_merges=N) applies it. Raises KeyError when the BPE never learned that pair."""
    from core.tokenizer import bytes_to_unicode

    table = bytes_to_unicode()
    pair = tuple("".join(table[b] for b in part.encode("utf-8")) for part in (left, right))
    return _bpe(tokenizer).ranks[pair] + 1


def bpe_size(what: str = "merges", tokenizer: str = "english-bpe") -> int:
    """A shipped BPE's number of learned merges (what="merges") or vocabulary size (what="vocab")."""
    bpe = _bpe(tokenizer)
    return {"merges": len(bpe.merges), "vocab": bpe.vocab_size}[what]


def text_model_config(model: str, field: str) -> int:
    """A shipped text model's architecture number from its card's config, e.g. field="vocab_size", "d_model"."""
    from core.train.checkpoints import MODELS_DIR, read_card

    return read_card(MODELS_DIR / model)["config"][field]


RESOLVERS: dict[str, Callable[..., int | float]] = {
    "bpe_token_count": bpe_token_count,
    "bpe_merge_number": bpe_merge_number,
    "bpe_size": bpe_size,
    "text_model_config": text_model_config,
    "best_head_score": best_head_score,
    "best_head_layer": best_head_layer,
    "best_head_index": best_head_index,
    "model_card_number": model_card_number,
    "dot_product_std": dot_product_std,
    "softmax_peak": softmax_peak,
    "kv_cache_bytes": kv_cache_bytes_by_dtype,
    "alibi_slope": alibi_slope,
    "moe_ffn_params": moe_ffn_params,
    "mha_weight_bytes": mha_weight_bytes,
    "lora_params": lora_params,
    "decoder_model_params": decoder_model_params,
    "attention_matrix_bytes": attention_matrix_bytes,
    "attention_peak_bytes": attention_peak_bytes,
    "vit_tokens": vit_tokens,
    "patch_embedding_params": patch_embedding_params,
    "mha_params": mha_params,
    "ffn_params": ffn_params,
    "layernorm_params": layernorm_params,
    "encoder_layer_params": encoder_layer_params,
    "decoder_layer_params": decoder_layer_params,
}
