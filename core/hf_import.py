"""Pretrained checkpoints in the Hugging Face folder layout, read into our own models (:mod:`core.models`).

    folder/config.json              model_type + hyper-parameters -> a DecoderConfig / EncoderConfig
    folder/model.safetensors        the weights, or the shards that model.safetensors.index.json lists; never a
                                    pickle (a folder with only pytorch_model.bin is refused, with how to convert it)
    folder/vocab.json, tokenizer.json, vocab.txt ...   the tokenizer (:mod:`core.hf_tokenizer`)

Each family is one of our models with a few :class:`~core.models.TransformerConfig` switches set:

    GPT-2  "gpt2"       pre-LN, learned positions, gelu_tanh, tied head, no √d_model scaling. Its Conv1D layers keep
                        W as (in, out), the transpose of nn.Linear's (out, in); c_attn is [W_Q | W_K | W_V].
    BERT   "bert"       post-LN, learned positions + token type 0, embedding LayerNorm, exact GELU, ε = 1e-12;
                        masked-LM head dense -> GELU -> LayerNorm -> tied decoder + an output bias.
    Llama  "llama",     RMSNorm, SwiGLU, RoPE in the "half" layout (rotate_half) with rope_theta, grouped-query
           "mistral"    attention, no biases, an untied head unless tie_word_embeddings.

The model computes in float32 whatever dtype the file stores. Tensors are read one at a time and copied into the
model, so loading needs the model plus one tensor; :func:`hf_parameter_bytes` says how much before anything is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open
from torch import Tensor, nn

from core.hf_tokenizer import load_hf_tokenizer
from core.models import DecoderConfig, DecoderOnlyModel, EncoderConfig, EncoderOnlyModel, count_parameters

if TYPE_CHECKING:
    from core.text_model import TextModel

BYTES_PER_PARAMETER = 4  # float32
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
Weight = tuple[str, str, Tensor]  # (our parameter, the checkpoint's tensor name, the tensor in our layout)
# The config.json keys a card keeps: those the families read.
CONFIG_KEYS = (
    "model_type", "vocab_size", "n_embd", "n_head", "n_layer", "n_inner", "n_positions", "activation_function",
    "layer_norm_epsilon", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
    "max_position_embeddings", "hidden_act", "layer_norm_eps", "type_vocab_size", "num_key_value_heads",
    "rms_norm_eps", "rope_theta", "rope_parameters", "rope_scaling", "sliding_window", "head_dim",
    "tie_word_embeddings", "attention_bias", "mlp_bias",
)  # fmt: skip


def _require(raw: dict, key: str):
    if raw.get(key) is None:
        raise ValueError(f"config.json of a {raw.get('model_type')} model has no {key!r}")
    return raw[key]


def _refuse(condition: bool, what: str) -> None:
    if condition:
        raise ValueError(f"not supported: {what}")


def _activation(raw: dict, key: str, default: str) -> str:
    name = raw.get(key, default)
    _refuse(name not in ACTIVATIONS, f"{key} {name!r} (supported: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


def _gpt2_config(raw: dict) -> DecoderConfig:
    _refuse(not raw.get("scale_attn_weights", True), "GPT-2 attention without the 1/√d_k scale")
    _refuse(raw.get("scale_attn_by_inverse_layer_idx", False), "GPT-2 scores scaled by 1/layer")
    _refuse(raw.get("add_cross_attention", False), "GPT-2 with cross-attention")
    d_model = _require(raw, "n_embd")
    return DecoderConfig(
        vocab_size=_require(raw, "vocab_size"), d_model=d_model, n_heads=_require(raw, "n_head"),
        n_layers=_require(raw, "n_layer"), d_ff=raw.get("n_inner") or 4 * d_model, max_len=_require(raw, "n_positions"),
        activation=_activation(raw, "activation_function", "gelu_new"), positional="learned",
        tie_weights=raw.get("tie_word_embeddings", True), norm_eps=raw.get("layer_norm_epsilon", 1e-5),
        embedding_scale=False,
    )  # fmt: skip


def _bert_config(raw: dict) -> EncoderConfig:
    position = raw.get("position_embedding_type", "absolute")
    _refuse(position != "absolute", f"BERT position_embedding_type {position!r}")
    _refuse(raw.get("is_decoder", False), "BERT as a decoder (is_decoder)")
    activation = _activation(raw, "hidden_act", "gelu")
    _refuse(activation == "relu", "BERT with hidden_act 'relu' (its masked-LM head applies hidden_act too)")
    return EncoderConfig(
        vocab_size=_require(raw, "vocab_size"), d_model=_require(raw, "hidden_size"),
        n_heads=_require(raw, "num_attention_heads"), n_layers=_require(raw, "num_hidden_layers"),
        d_ff=_require(raw, "intermediate_size"), max_len=_require(raw, "max_position_embeddings"), norm_first=False,
        activation=activation, positional="learned", tie_weights=raw.get("tie_word_embeddings", True),
        norm_eps=raw.get("layer_norm_eps", 1e-12), embedding_scale=False, type_vocab_size=raw.get("type_vocab_size", 2),
        embedding_norm=True, lm_head_bias=True,
    )  # fmt: skip


def _rope_theta(raw: dict) -> float:
    """rope_theta, from transformers 5's ``rope_parameters`` or the older top-level key; scaled RoPE is refused."""
    params = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
    kind = params.get("rope_type", params.get("type", "default"))
    _refuse(kind != "default", f"RoPE scaling {kind!r}")
    return float(params.get("rope_theta", raw.get("rope_theta", 10000.0)))


def _llama_config(raw: dict) -> DecoderConfig:
    d_model, n_heads = _require(raw, "hidden_size"), _require(raw, "num_attention_heads")
    _refuse(raw.get("hidden_act", "silu") != "silu", f"Llama hidden_act {raw.get('hidden_act')!r}")
    _refuse(raw.get("head_dim") not in (None, d_model // n_heads), "head_dim != hidden_size / num_attention_heads")
    bias = bool(raw.get("attention_bias", False))
    _refuse(bias != bool(raw.get("mlp_bias", False)), "attention_bias != mlp_bias")
    max_len = _require(raw, "max_position_embeddings")
    if raw.get("sliding_window"):  # Mistral: inside the window, sliding-window attention is plain causal attention
        max_len = min(max_len, raw["sliding_window"])
    return DecoderConfig(
        vocab_size=_require(raw, "vocab_size"), d_model=d_model, n_heads=n_heads,
        n_layers=_require(raw, "num_hidden_layers"), d_ff=_require(raw, "intermediate_size"), max_len=max_len,
        activation="swiglu", norm="rmsnorm", positional="rope", n_kv_heads=raw.get("num_key_value_heads") or n_heads,
        bias=bias, tie_weights=raw.get("tie_word_embeddings", False), norm_eps=raw.get("rms_norm_eps", 1e-6),
        embedding_scale=False, rope_base=_rope_theta(raw), rope_layout="half",
    )  # fmt: skip


class Checkpoint:
    """The tensors of a folder's safetensors files, by name, each read when asked for (as float32).

    Names are tried as written, then without the task model's prefix ("transformer.", "bert.", "model.": files saved
    from the bare model), and with BERT's old LayerNorm names gamma / beta for weight / bias.
    """

    def __init__(self, files: list[Path]) -> None:
        self.where = {}  # tensor name -> the open file that holds it
        for f in files:
            handle = safe_open(str(f), framework="pt")
            self.where.update({name: handle for name in handle.keys() if name not in self.where})

    def _candidates(self, name: str) -> list[str]:
        head, _, rest = name.partition(".")
        names = [name, rest] if head in ("transformer", "bert", "model") else [name]
        old = {".weight": ".gamma", ".bias": ".beta"}
        return names + [n[: n.rindex(".")] + old[n[n.rindex(".") :]] for n in names if "LayerNorm." in n]

    def __contains__(self, name: str) -> bool:
        return any(n in self.where for n in self._candidates(name))

    def __getitem__(self, name: str) -> Tensor:
        for n in self._candidates(name):
            if n in self.where:
                return self.where[n].get_tensor(n).float()
        raise ValueError(f"the weights have no tensor {name!r}")

    def copy(self, mapping: dict[str, str], *, transpose: bool = False) -> Iterator[Weight]:
        """(ours, theirs, tensor) for every pair of ``mapping``; ``transpose`` turns a Conv1D (in, out) matrix
        into nn.Linear's (out, in) (a bias is left as it is)."""
        for ours, theirs in mapping.items():
            tensor = self[theirs]
            yield ours, theirs, tensor.t() if transpose else tensor


def _params(pairs: dict[str, str], kinds: tuple[str, ...] = ("weight", "bias")) -> dict[str, str]:
    """{"w_q": "query"} -> {"w_q.weight": "query.weight", "w_q.bias": "query.bias"}."""
    return {f"{ours}.{k}": f"{theirs}.{k}" for ours, theirs in pairs.items() for k in kinds}


def _gpt2_weights(ckpt: Checkpoint, cfg: DecoderConfig) -> Iterator[Weight]:
    """GPT-2: wte, wpe, per block ln_1 / attn (c_attn = [W_Q | W_K | W_V], c_proj) / ln_2 / mlp (c_fc, c_proj), ln_f."""
    yield from ckpt.copy({"embedding.weight": "transformer.wte.weight",
                          "decoder.positions.table.embedding.weight": "transformer.wpe.weight",
                          **_params({"decoder.final_norm": "transformer.ln_f"})})  # fmt: skip
    for i in range(cfg.n_layers):
        ours, theirs = f"decoder.layers.{i}.", f"transformer.h.{i}."
        for kind in ("weight", "bias"):
            name = f"{theirs}attn.c_attn.{kind}"
            qkv = ckpt[name].t()  # (3·d_model, d_model) = [W_Q; W_K; W_V], or the bias (3·d_model,)
            for w, part in zip(("w_q", "w_k", "w_v"), qkv.chunk(3, dim=0), strict=True):
                yield f"{ours}self_attn.{w}.{kind}", name, part
        conv1d = {"self_attn.w_o": "attn.c_proj", "ff.linear1": "mlp.c_fc", "ff.linear2": "mlp.c_proj"}
        yield from ckpt.copy(_params({ours + k: theirs + v for k, v in conv1d.items()}), transpose=True)
        yield from ckpt.copy(_params({f"{ours}self_attn_norm": f"{theirs}ln_1", f"{ours}ff_norm": f"{theirs}ln_2"}))
    if not cfg.tie_weights:
        yield from ckpt.copy({"lm_head.weight": "lm_head.weight"})


def _bert_weights(ckpt: Checkpoint, cfg: EncoderConfig) -> Iterator[Weight]:
    """BERT: embeddings (word, position, token type, LayerNorm), per layer attention / intermediate / output, each
    sub-layer's LayerNorm after its residual add (post-LN), then the masked-LM head cls.predictions."""
    e = "bert.embeddings."
    yield from ckpt.copy({"embedding.weight": e + "word_embeddings.weight",
                          "embedding.token_types.weight": e + "token_type_embeddings.weight",
                          "encoder.positions.table.embedding.weight": e + "position_embeddings.weight",
                          **_params({"encoder.embedding_norm": e + "LayerNorm"})})  # fmt: skip
    for i in range(cfg.n_layers):
        ours, theirs = f"encoder.layers.{i}.", f"bert.encoder.layer.{i}."
        names = {"self_attn.w_q": "attention.self.query", "self_attn.w_k": "attention.self.key",
                 "self_attn.w_v": "attention.self.value", "self_attn.w_o": "attention.output.dense",
                 "self_attn_norm": "attention.output.LayerNorm", "ff.linear1": "intermediate.dense",
                 "ff.linear2": "output.dense", "ff_norm": "output.LayerNorm"}  # fmt: skip
        yield from ckpt.copy(_params({ours + k: theirs + v for k, v in names.items()}))
    head = "cls.predictions."
    bias = head + "bias" if head + "bias" in ckpt else head + "decoder.bias"
    yield from ckpt.copy({"lm_head.bias": bias, **_params({"mlm_transform.0": head + "transform.dense",
                                                           "mlm_transform.2": head + "transform.LayerNorm"})})  # fmt: skip
    if not cfg.tie_weights:
        yield from ckpt.copy({"lm_head.weight": head + "decoder.weight"})


def _llama_weights(ckpt: Checkpoint, cfg: DecoderConfig) -> Iterator[Weight]:
    """Llama / Mistral: embed_tokens, per layer input_layernorm / self_attn (q, k, v, o) / post_attention_layernorm /
    mlp (gate, up, down: SwiGLU's W_g, W₁, W₂), the final norm, lm_head."""
    linear = ("weight", "bias") if cfg.bias else ("weight",)
    yield from ckpt.copy(
        {"embedding.weight": "model.embed_tokens.weight", "decoder.final_norm.weight": "model.norm.weight"}
    )
    for i in range(cfg.n_layers):
        ours, theirs = f"decoder.layers.{i}.", f"model.layers.{i}."
        names = {"self_attn.w_q": "self_attn.q_proj", "self_attn.w_k": "self_attn.k_proj",
                 "self_attn.w_v": "self_attn.v_proj", "self_attn.w_o": "self_attn.o_proj", "ff.gate": "mlp.gate_proj",
                 "ff.linear1": "mlp.up_proj", "ff.linear2": "mlp.down_proj"}  # fmt: skip
        yield from ckpt.copy(_params({ours + k: theirs + v for k, v in names.items()}, linear))
        norms = {"self_attn_norm": "input_layernorm", "ff_norm": "post_attention_layernorm"}
        yield from ckpt.copy(_params({ours + k: theirs + v for k, v in norms.items()}, ("weight",)))
    if not cfg.tie_weights:
        yield from ckpt.copy({"lm_head.weight": "lm_head.weight"})


@dataclass(frozen=True)
class Family:
    """How one model_type becomes our model: its kind, config, model class and weight names."""

    kind: str
    config: Callable[[dict], DecoderConfig | EncoderConfig]
    model: type[nn.Module]
    weights: Callable[[Checkpoint, DecoderConfig | EncoderConfig], Iterator[Weight]]


FAMILIES: dict[str, Family] = {
    "gpt2": Family("decoder", _gpt2_config, DecoderOnlyModel, _gpt2_weights),
    "bert": Family("encoder", _bert_config, EncoderOnlyModel, _bert_weights),
    "llama": Family("decoder", _llama_config, DecoderOnlyModel, _llama_weights),
    "mistral": Family("decoder", _llama_config, DecoderOnlyModel, _llama_weights),
}


def read_hf_config(path: Path | str) -> tuple[dict, Family, DecoderConfig | EncoderConfig]:
    """(config.json as read, its family, our config) for a model folder; a one-line ValueError names what is wrong."""
    folder = Path(path)
    file = folder / "config.json"
    if not file.is_file():
        raise ValueError(f"{folder.name}: no config.json (a Hugging Face model folder holds config.json + weights)")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{folder.name}: config.json is not valid JSON ({err})") from err
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type not in FAMILIES:
        raise ValueError(
            f"{folder.name}: model_type {model_type!r} is not supported (supported: {', '.join(FAMILIES)})"
        )
    quantized = raw.get("quantization_config")
    try:
        _refuse(quantized is not None, f"quantized weights ({dict(quantized or {}).get('quant_method', '?')})")
        return raw, FAMILIES[model_type], FAMILIES[model_type].config(raw)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{folder.name}: {err}") from err


def hf_parameter_bytes(path: Path | str) -> int:
    """Bytes the loaded model's parameters will take (float32), from config.json alone: the model is built on the
    meta device (shapes, no memory) and counted with :func:`core.models.count_parameters`."""
    _, family, cfg = read_hf_config(path)
    with torch.device("meta"):
        model = family.model(cfg)
    return count_parameters(model)["total"] * BYTES_PER_PARAMETER


def weight_files(path: Path | str) -> list[Path]:
    """The folder's safetensors files (the shards its index lists, else every ``*.safetensors``). Pickled weights
    are refused with how to convert them; a ValueError names what is missing."""
    folder = Path(path)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted({folder / f for f in json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()})
        missing = [f.name for f in shards if not f.is_file()]
        if missing:
            raise ValueError(f"{folder.name}: shards listed in {index.name} are missing: {', '.join(missing)}")
        return shards
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickles = sorted(p.name for p in folder.glob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
    if pickles:
        raise ValueError(f"{folder.name}: only pickled weights ({', '.join(pickles)}); the lab reads safetensors only. "
                         "Convert once with transformers: AutoModel.from_pretrained(folder).save_pretrained(folder, "
                         "safe_serialization=True), with the folder's class (e.g. AutoModelForCausalLM)")  # fmt: skip
    raise ValueError(f"{folder.name}: no weights (no *.safetensors file)")


def fill(model: nn.Module, weights: Iterator[Weight]) -> None:
    """Copy each (ours, theirs, tensor) into the model's parameter ``ours``; every parameter must be filled once and
    every shape must match (a one-line ValueError naming the checkpoint's tensor otherwise)."""
    params, filled = dict(model.named_parameters()), set()  # a tied weight is listed once
    with torch.no_grad():
        for ours, theirs, tensor in weights:
            target = params[ours]
            if tensor.shape != target.shape:
                raise ValueError(f"weight {theirs!r} has shape {tuple(tensor.shape)} in our layout, but "
                                 f"config.json implies {tuple(target.shape)}")  # fmt: skip
            target.copy_(tensor)
            filled.add(ours)
    left = [p for p in params if p not in filled]
    if left:
        raise ValueError(f"no weight for {', '.join(left)}")


def load_hf_folder(path: Path | str, *, device: torch.device | str = "cpu", name: str | None = None) -> TextModel:
    """A Hugging Face model folder (GPT-2, BERT masked LM, Llama, Mistral) -> :class:`~core.text_model.TextModel`
    in eval mode on ``device``: our own model, so ``model(ids, return_trace=True)`` gives logits ``(B, T, V)`` and
    every layer's attention ``trace[l].self_attn.weights (B, H, T, T)``.

    kind "decoder" (GPT-2, Llama, Mistral) or "encoder" (BERT). card: name (``name`` or the folder's), source
    "local folder", architecture, the config.json keys the model was built from, n_parameters. Raises a one-line
    ValueError for an unsupported model_type, a missing config / weights / tokenizer, pickled weights, a weight of
    the wrong shape.
    """
    from core.text_model import TextModel  # here: core.text_model's loader calls this module

    folder = Path(path)
    raw, family, cfg = read_hf_config(folder)
    name = name or folder.name
    tokenizer = load_hf_tokenizer(folder, raw["model_type"])
    try:
        checkpoint = Checkpoint(weight_files(folder))
    except (OSError, RuntimeError) as err:  # safetensors reports a broken file as an OSError or a RuntimeError
        raise ValueError(f"{name}: cannot read the safetensors weights ({err})") from err
    model = family.model(cfg)
    try:
        fill(model, family.weights(checkpoint, cfg))
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from err
    card = {"name": name, "source": "local folder", "path": str(folder),
            "architecture": (raw.get("architectures") or [raw["model_type"]])[0],
            "config": {k: raw[k] for k in CONFIG_KEYS if k in raw}, "n_parameters": count_parameters(model)["total"]}  # fmt: skip
    return TextModel(name, family.kind, model.to(device).eval(), tokenizer, cfg.max_len, card)
