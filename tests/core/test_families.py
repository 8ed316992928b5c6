"""core.lab.families: each family's live example reports the masks its attention really used (read from the trace), and
they are the masks core.masks defines; attention rows are distributions; bad input is refused with a message."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from core.lab.families import FAMILY_TASKS, family_masks, run_example, untrained_model
from core.masks import causal_mask
from core.train.tasks import get_task


@pytest.fixture(scope="module")
def examples():
    out = {}
    for family, task_name in FAMILY_TASKS.items():
        task = get_task(task_name)
        text = "abcdef" if task_name == "reverse" else task.default_input
        out[family] = (task, run_example(untrained_model(task, seed=0), task, text))
    return out


def test_encoder_only_attends_everywhere(examples):
    task, ex = examples["encoder"]
    (view,) = ex.attentions
    T = len(task.default_input)
    assert view.name == "bidirectional self-attention" and view.query_labels == list(task.default_input)
    assert torch.equal(view.mask, torch.ones(T, T, dtype=torch.bool))
    assert view.weights.shape == (2, 4, T, T)
    assert ex.expected == task.answer(task.default_input) and len(ex.answer) == T
    assert ex.next_token == ()


def test_decoder_only_is_causal_and_predicts_a_next_token(examples):
    task, ex = examples["decoder"]
    (view,) = ex.attentions
    T = len(view.query_labels)
    assert view.query_labels[: len(task.prompt("abcdef"))] == list(task.prompt("abcdef"))
    assert torch.equal(view.mask, causal_mask(T))
    assert_close(view.weights.sum(-1), torch.ones(view.weights.shape[:-1]))
    assert torch.all(view.weights.masked_select(~view.mask) == 0)  # nothing leaks from the future
    probs = [p for _, p in ex.next_token]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    model = untrained_model(task, seed=0)
    prompt = torch.tensor([task.vocab.encode(task.prompt("abcdef"))])
    with torch.no_grad():
        expected = torch.softmax(model(prompt).logits[0, -1], -1)
    assert ex.next_token[0] == (task.vocab.symbols[int(expected.argmax())], pytest.approx(float(expected.max())))


def test_encoder_decoder_has_three_attentions_with_their_masks(examples):
    task, ex = examples["seq2seq"]
    encoder, decoder, cross = ex.attentions
    S, T = len(task.default_input), len(decoder.query_labels)
    assert (encoder.name, decoder.name, cross.name) == ("encoder self-attention", "decoder self-attention",
                                                        "cross-attention")
    assert torch.equal(encoder.mask, torch.ones(S, S, dtype=torch.bool))
    assert torch.equal(decoder.mask, causal_mask(T))
    assert torch.equal(cross.mask, torch.ones(T, S, dtype=torch.bool))
    assert cross.weights.shape[-2:] == (T, S) and cross.key_labels == list(task.default_input)
    assert decoder.query_labels[0] == "^"  # the decoder starts from BOS
    assert ex.expected == "2026-11-22"


@pytest.mark.parametrize("task_name,text", [("masked", "abcd=abcd"), ("reverse", "ABC"), ("dates", "yesterday"),
                                            ("dates", "31 Foo 2026")])
def test_bad_input_is_refused_with_a_message(task_name, text):
    task = get_task(task_name)
    with pytest.raises(ValueError, match=r"\w"):
        run_example(untrained_model(task), task, text)


def test_family_masks():
    masks = family_masks(4)
    assert list(masks) == ["encoder-only", "decoder-only", "enc-dec: decoder", "enc-dec: cross"]
    assert torch.equal(masks["decoder-only"], causal_mask(4)) and bool(masks["enc-dec: cross"].all())


@pytest.mark.cuda
@pytest.mark.parametrize("family", list(FAMILY_TASKS))
def test_examples_on_cuda_match_cpu(family):
    task = get_task(FAMILY_TASKS[family])
    text = "abcdef" if task.name == "reverse" else task.default_input
    cpu = run_example(untrained_model(task), task, text)
    gpu = run_example(untrained_model(task).to("cuda"), task, text)
    assert gpu.answer == cpu.answer
    for a, b in zip(cpu.attentions, gpu.attentions, strict=True):
        assert torch.equal(a.mask, b.mask)
        assert_close(b.weights, a.weights, atol=1e-5, rtol=1e-4)
