"""Decoding: sampling rules, seeded draws, KV cache == no cache (tokens and logits), cache bytes, predictions."""

from __future__ import annotations

import pytest
import torch

from core.attention import naive_attention
from core.generation import Sampling, decode, decode_task, draw_token, head_inputs, next_token_probs, predict
from core.masks import causal_mask
from core.train.tasks import get_task
from core.train.training import ModelSpec, build_model, model_config
from core.train.vocab import EOS, UnknownCharacters

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


SPEC = ModelSpec(n_layers=2, n_heads=4, d_model=32, positional="rope")


def model_for(task_name: str, spec: ModelSpec = SPEC, seed: int = 0):
    task = get_task(task_name)
    return build_model(model_config(task, spec), seed=seed).eval(), task


def test_greedy_is_one_hot_argmax():
    logits = torch.tensor([0.1, 2.0, -1.0, 1.9])
    assert next_token_probs(logits, Sampling()).tolist() == [0, 1, 0, 0]


def test_temperature_top_k_top_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    same = next_token_probs(logits, Sampling(temperature=1.0))
    torch.testing.assert_close(same, torch.tensor([0.5, 0.3, 0.15, 0.05]))
    hot = next_token_probs(logits, Sampling(temperature=2.0))
    torch.testing.assert_close(hot, torch.softmax(logits / 2, -1))
    assert hot.max() < 0.5  # flatter than T = 1
    torch.testing.assert_close(next_token_probs(logits, Sampling(1.0, top_k=2)), torch.tensor([0.625, 0.375, 0, 0]))
    # nucleus: keep tokens while the mass before them is < 0.7 -> {0.5, 0.3}
    torch.testing.assert_close(next_token_probs(logits, Sampling(1.0, top_p=0.7)), torch.tensor([0.625, 0.375, 0, 0]))
    torch.testing.assert_close(next_token_probs(logits, Sampling(1.0, top_p=0.1)), torch.tensor([1.0, 0, 0, 0]))


def test_bad_sampling_raises():
    for kwargs in ({"temperature": -1}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            Sampling(**kwargs)


def test_draws_follow_the_distribution_and_are_seeded():
    probs = torch.tensor([0.1, 0.6, 0.0, 0.3])
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(torch.tensor([draw_token(probs, g)[0] for _ in range(4000)]), minlength=4)
    assert counts[2] == 0
    torch.testing.assert_close(counts / 4000, probs, atol=0.03, rtol=0)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert [draw_token(probs, g1) for _ in range(20)] == [draw_token(probs, g2) for _ in range(20)]


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(1.0), Sampling(1.5, top_k=5, top_p=0.9)], ids=str)
@pytest.mark.parametrize("task_name", ["reverse", "dates"])
def test_cached_and_uncached_decoding_agree(task_name, sampling):
    model, task = model_for(task_name)
    text = task.default_input
    cached = decode_task(model, task, text, sampling=sampling, use_cache=True, seed=7)
    full = decode_task(model, task, text, sampling=sampling, use_cache=False, seed=7)
    assert cached.tokens == full.tokens and len(cached.tokens) > 3
    for a, b in zip(cached.steps, full.steps, strict=True):
        torch.testing.assert_close(a.logits, b.logits, atol=1e-4, rtol=1e-4)
    assert all(s.cache_bytes == () for s in full.steps)


def test_cache_bytes_are_the_real_tensor_sizes():
    model, task = model_for("copy")
    prompt = task.vocab.encode(task.prompt("abcd"))
    out = decode(model, prompt, 5, use_cache=True)
    d_k, heads = SPEC.d_model // SPEC.n_heads, SPEC.n_heads
    for i, step in enumerate(out.steps):
        cached_positions = len(prompt) + i  # the token just drawn is not cached until the next step
        assert step.cache_bytes == (2 * heads * cached_positions * d_k * 4,) * SPEC.n_layers


def test_decode_stops_at_the_stop_token():
    model, task = model_for("copy")
    eos = task.vocab.id(EOS)
    # make EOS the most likely token everywhere: the first generated token must end the decoding
    handle = model.lm_head.register_forward_hook(lambda m, i, o: o.index_fill(-1, torch.tensor([eos]), 100.0))
    out = decode(model, task.vocab.encode(task.prompt("ab")), 10, stop_token=eos)
    handle.remove()
    assert out.tokens == [eos] and len(out.steps) == 1


@pytest.mark.parametrize("task_name", ["reverse", "induction", "dates", "masked"])
def test_predict_returns_answer_and_attention(task_name):
    model, task = model_for(task_name)
    p = predict(model, task, task.default_input)
    L, H, T, T2 = p.self_attention.shape
    assert (L, H) == (SPEC.n_layers, SPEC.n_heads) and T == T2 == len(p.labels)
    torch.testing.assert_close(p.self_attention.sum(-1), torch.ones(L, H, T))
    assert p.expected == task.answer(task.default_input)
    if task_name == "dates":
        assert p.cross_attention.shape == (L, H, T, len(task.default_input))
        assert p.encoder_attention.shape[-1] == len(task.default_input)
    else:
        assert p.cross_attention is None
    if task_name == "masked":
        assert len(p.text) == len(task.default_input) and "?" not in p.text


def test_predict_names_unknown_characters():
    model, task = model_for("reverse")
    with pytest.raises(UnknownCharacters, match="'Z'"):
        predict(model, task, "abZ")


@pytest.mark.parametrize("layer, head", [(0, 0), (1, 3)])
def test_head_inputs_are_the_heads_own_q_k_v(layer, head):
    model, task = model_for("reverse")
    h = head_inputs(model, task, task.default_input, layer, head)
    p = predict(model, task, task.default_input)
    assert h.labels == p.labels and h.q.shape == (len(h.labels), SPEC.d_model // SPEC.n_heads)
    torch.testing.assert_close(h.weights, p.self_attention[layer, head])
    # An independent float64 reference on the head's q, k, v gives the head's own (causal) weights back.
    mask = causal_mask(len(h.labels))
    scores = (h.q.double() @ h.k.double().T) / h.q.shape[-1] ** 0.5
    reference = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
    torch.testing.assert_close(h.weights.double(), reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(naive_attention(h.q, h.k, h.v, mask), (reference @ h.v.double()).float(), rtol=1e-4,
                               atol=1e-5)


def test_head_inputs_refuses_other_families_and_bad_input():
    model, task = model_for("dates")
    with pytest.raises(ValueError, match="decoder-only"):
        head_inputs(model, task, task.default_input, 0, 0)
    model, task = model_for("reverse")
    with pytest.raises(UnknownCharacters, match="'Z'"):
        head_inputs(model, task, "abZ", 0, 0)
