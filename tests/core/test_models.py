"""Models: KV-cache decoding equals the full forward, causality, padding, traces, parameter counts."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import (
    POSITIONALS,
    DecoderConfig,
    DecoderOnlyModel,
    EncoderConfig,
    EncoderDecoderModel,
    EncoderOnlyModel,
    Seq2SeqConfig,
    count_parameters,
)

SMALL = dict(vocab_size=20, d_model=16, n_heads=4, n_layers=2, d_ff=32, max_len=24)


def decoder(**overrides) -> DecoderOnlyModel:
    return DecoderOnlyModel(DecoderConfig(**{**SMALL, **overrides})).eval()


@pytest.mark.parametrize("positional", [*POSITIONALS, "rope-half"])
@pytest.mark.parametrize("n_kv_heads, norm_first", [(None, True), (2, False), (1, True)])
def test_kv_cache_decoding_equals_full_forward_at_every_step(positional, n_kv_heads, norm_first):
    rope = {"positional": "rope", "rope_layout": "half"} if positional == "rope-half" else {"positional": positional}
    model = decoder(**rope, n_kv_heads=n_kv_heads, norm_first=norm_first)
    tokens = torch.randint(0, 20, (2, 10))
    full = model(tokens, return_trace=True)
    caches = model.new_caches()
    prompt = model(tokens[:, :4], caches=caches)
    torch.testing.assert_close(prompt.logits, full.logits[:, :4])
    for t in range(4, 10):
        step = model(tokens[:, t : t + 1], caches=caches, return_trace=True)
        torch.testing.assert_close(step.logits[:, 0], full.logits[:, t])
        for layer_step, layer_full in zip(step.trace, full.trace, strict=True):
            torch.testing.assert_close(
                layer_step.self_attn.weights[:, :, 0], layer_full.self_attn.weights[:, :, t, : t + 1]
            )
    assert [c.length for c in caches] == [10, 10]


def test_decoder_is_causal():
    model = decoder()
    tokens = torch.randint(0, 20, (1, 8))
    changed = tokens.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 20
    a, b = model(tokens).logits, model(changed).logits
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_trace_covers_every_layer_and_head():
    model = decoder(n_layers=3)
    tokens = torch.randint(0, 20, (2, 7))
    out = model(tokens, return_trace=True)
    assert model(tokens).trace is None
    assert len(out.trace) == 3 and out.logits.shape == (2, 7, 20) and out.hidden.shape == (2, 7, 16)
    for layer in out.trace:
        assert layer.self_attn.weights.shape == (2, 4, 7, 7) and layer.self_attn.q.shape == (2, 4, 7, 4)
        assert torch.all(layer.self_attn.weights.triu(1) == 0)
    for before, after in zip(out.trace, out.trace[1:], strict=False):
        assert after.residual_in is before.residual_out
    torch.testing.assert_close(out.hidden, model.decoder.final_norm(out.trace[-1].residual_out))
    torch.testing.assert_close(out.logits, out.hidden @ model.embedding.weight.T)  # tied head


def test_generate_greedy_equals_argmax_without_cache():
    model = decoder(positional="rope")
    prompt = torch.randint(0, 20, (2, 3))
    generated = model.generate(prompt, 6, temperature=0)
    tokens = prompt
    for _ in range(6):  # the slow way: re-run the whole sequence each step
        tokens = torch.cat([tokens, model(tokens).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, tokens)
    sampled = model.generate(prompt, 4, temperature=0.8, top_k=3, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (2, 7) and torch.equal(sampled[:, :3], prompt)


def test_sequence_longer_than_max_len_is_explained():
    with pytest.raises(ValueError, match="max_len=24"):
        decoder(positional="learned")(torch.zeros(1, 25, dtype=torch.long))


def test_encoder_is_bidirectional_and_ignores_padding():
    model = EncoderOnlyModel(EncoderConfig(**SMALL)).eval()
    tokens, lengths = torch.randint(0, 20, (2, 8)), torch.tensor([8, 5])
    out = model(tokens, lengths=lengths, return_trace=True)
    changed = tokens.clone()
    changed[1, 5:] = (changed[1, 5:] + 1) % 20  # padding of row 1
    changed[0, 7] = (changed[0, 7] + 1) % 20  # a real token of row 0
    again = model(changed, lengths=lengths).logits
    torch.testing.assert_close(again[1, :5], out.logits[1, :5])
    assert not torch.allclose(again[0, 0], out.logits[0, 0])  # position 0 sees the last token
    assert torch.all(out.trace[0].self_attn.weights[1, ..., 5:] == 0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), length=st.integers(2, 9))
def test_property_encoder_without_positions_is_permutation_equivariant(seed, length):
    torch.manual_seed(seed)
    model = EncoderOnlyModel(EncoderConfig(**{**SMALL, "positional": "none", "norm_first": False})).eval()
    tokens, perm = torch.randint(0, 20, (1, length)), torch.randperm(length)
    torch.testing.assert_close(model(tokens[:, perm]).logits, model(tokens).logits[:, perm])


@pytest.mark.parametrize("positional", ["sinusoidal", "relative"])
def test_encoder_decoder_forward_decode_and_cache(positional):
    model = EncoderDecoderModel(Seq2SeqConfig(**{**SMALL, "positional": positional})).eval()
    src, tgt, src_lengths = torch.randint(0, 20, (2, 9)), torch.randint(0, 20, (2, 6)), torch.tensor([9, 4])
    out = model(src, tgt, src_lengths=src_lengths, return_trace=True)
    assert out.logits.shape == (2, 6, 20) and len(out.trace) == len(out.encoder_trace) == 2
    memory, _ = model.encode(src, src_lengths=src_lengths)
    torch.testing.assert_close(model.decode(tgt, memory, src_lengths=src_lengths).logits, out.logits)
    caches = model.new_caches()
    for t in range(6):
        step = model.decode(tgt[:, t : t + 1], memory, src_lengths=src_lengths, caches=caches)
        torch.testing.assert_close(step.logits[:, 0], out.logits[:, t])
    padded = src.clone()
    padded[1, 4:] = 0
    torch.testing.assert_close(model(padded, tgt, src_lengths=src_lengths).logits[1], out.logits[1])
    assert torch.all(out.trace[0].cross_attn.weights[1, ..., 4:] == 0)


def test_parameter_counts_read_from_the_live_module():
    cfg = DecoderConfig(**SMALL)
    model = DecoderOnlyModel(cfg)
    d, f, v, n = cfg.d_model, cfg.d_ff, cfg.vocab_size, cfg.n_layers
    counts = count_parameters(model)
    assert counts["token embedding"] == v * d
    assert counts["attention"] == n * 4 * (d * d + d)
    assert counts["feed-forward"] == n * (d * f + f + f * d + d)
    assert counts["norm"] == (2 * n + 1) * 2 * d  # two per layer + the final pre-LN norm
    assert counts["total"] == model.n_parameters() == sum(p.numel() for p in model.parameters())
    untied = DecoderOnlyModel(dataclasses.replace(cfg, tie_weights=False))
    assert untied.lm_head.weight is not untied.embedding.weight
    assert untied.n_parameters() == model.n_parameters() + v * d and untied.parameter_counts()["other"] == v * d
    by_child = model.parameter_counts(by="child")
    assert by_child == {"embedding": v * d, "decoder": counts["total"] - v * d, "total": counts["total"]}
    gqa = DecoderOnlyModel(dataclasses.replace(cfg, n_kv_heads=1))
    d_k = d // cfg.n_heads
    assert count_parameters(gqa)["attention"] == n * (2 * (d * d + d) + 2 * (d * d_k + d_k))


def test_parameter_counts_by_module_are_what_each_module_owns():
    cfg = DecoderConfig(**SMALL)
    model = DecoderOnlyModel(cfg)
    d, v = cfg.d_model, cfg.vocab_size
    by_module = count_parameters(model, by="module")
    assert by_module["embedding"] == v * d  # the tied output head owns the same tensor: counted once, here
    assert "lm_head" not in by_module
    assert by_module["decoder.layers.0.self_attn.w_q"] == d * d + d
    assert by_module["total"] == sum(n for name, n in by_module.items() if name != "total") == model.n_parameters()
    with pytest.raises(ValueError, match="'module'"):
        count_parameters(model, by="layer")


def test_configs_are_frozen_and_validated():
    cfg = DecoderConfig(**SMALL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.d_model = 32
    with pytest.raises(ValueError, match="n_heads that work"):
        DecoderConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="choose one of"):
        EncoderConfig(positional="xpos")
    with pytest.raises(ValueError, match="choose one of"):
        Seq2SeqConfig(activation="tanh")
    with pytest.raises(ValueError, match="dropout"):
        DecoderConfig(dropout=1.5)
    hash(cfg)  # hashable: usable as an st.cache_resource key


def test_checkpoint_switches():
    """The switches pretrained checkpoints need (core.hf_import), each visible where it acts; defaults unchanged."""
    assert decoder().embedding.scale == 16**0.5 and decoder().lm_head.bias is None
    bert = EncoderOnlyModel(EncoderConfig(**SMALL, norm_first=False, embedding_scale=False, type_vocab_size=2,
                                          embedding_norm=True, lm_head_bias=True, norm_eps=1e-12)).eval()  # fmt: skip
    tokens = torch.randint(0, 20, (2, 5))
    embedded = bert.embedding.weight[tokens] + bert.embedding.token_types.weight[0]  # unscaled, + type 0
    torch.testing.assert_close(bert.embedding(tokens), embedded)
    first = bert(tokens, return_trace=True).trace[0].residual_in  # Norm(E[tokens] + P[positions])
    torch.testing.assert_close(first.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    assert bert.lm_head.bias.shape == (20,) and bert.encoder.embedding_norm.eps == 1e-12
    assert {m.eps for m in bert.modules() if hasattr(m, "eps")} == {1e-12}
    llama = decoder(positional="rope", rope_layout="half", rope_base=500.0, norm="rmsnorm", n_kv_heads=2)
    rope = llama.decoder.positions.rope
    assert rope.layout == "half" and float(rope.inv_freq[1]) == pytest.approx(500**-0.5)  # θ_1 = base^(-2/d_k)
    with pytest.raises(ValueError, match="choose one of"):
        DecoderConfig(rope_layout="spiral")
    with pytest.raises(ValueError, match="norm_eps > 0"):
        DecoderConfig(norm_eps=0.0)


def test_float64_model_runs_and_agrees():
    model = decoder(positional="alibi")
    tokens = torch.randint(0, 20, (2, 6))
    out32 = model(tokens).logits
    model64 = model.double()
    torch.testing.assert_close(model64(tokens).logits.float(), out32, atol=1e-4, rtol=1e-4)
    caches = model64.new_caches()
    steps = torch.cat([model64(tokens[:, t : t + 1], caches=caches).logits for t in range(6)], 1)
    torch.testing.assert_close(steps, model64(tokens).logits, atol=1e-12, rtol=1e-10)
