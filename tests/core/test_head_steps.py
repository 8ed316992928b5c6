"""core.lab.head_steps: the step-by-step page's stages equal core.attention on the same q, k, v."""

from __future__ import annotations

import torch

from core.attention import attention
from core.generation import head_inputs
from core.lab.head_steps import TRACE_FIELDS, seeded_head_steps, trained_head_steps
from core.lab.toy_inputs import random_embeddings, seeded_embeddings, seeded_qkv
from core.masks import causal_mask
from core.train.checkpoints import MODELS_DIR, load_model, read_card, shipped_names
from core.train.tasks import get_task


def test_seeded_steps_are_the_trace_of_seeded_q_k_v():
    words = ["the", "cat", "sat", "the"]
    steps = seeded_head_steps(words, 0, 16, 8, 2.0, True, seed=3)
    q, k, v = seeded_qkv(seeded_embeddings(words, 16, 3), 8, 3)
    trace = attention(q, k, v, causal_mask(4), temperature=2.0)
    for name in TRACE_FIELDS:
        torch.testing.assert_close(steps[name], getattr(trace, name))
    assert steps["x"].shape == (4, 16) and steps["q"].shape == (4, 8)
    random = seeded_head_steps(None, 5, 16, 8, 1.0, False, seed=3)
    torch.testing.assert_close(random["x"], random_embeddings(5, 16, 3))


def test_trained_steps_reproduce_the_models_own_head():
    name = next(n for n in shipped_names() if read_card(MODELS_DIR / n)["family"] == "decoder")
    model, card = load_model(MODELS_DIR / name)
    task = get_task(card["task"])
    labels, steps = trained_head_steps(model, task, task.default_input, 0, 1, 1.0)
    h = head_inputs(model, task, task.default_input, 0, 1)
    assert labels == h.labels
    torch.testing.assert_close(steps["weights"], h.weights, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(steps["model_weights"], h.weights)
