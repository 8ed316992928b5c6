"""core.lab.text_heads: one head of the English GPT / BERT (and their untrained twins), read from the model's trace,
equals a float64 recomputation from the layer's own weights and run_text's attention."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from core.lab.text_heads import HEAD_FIELDS, text_head_steps
from core.text_model import encode_text, load_text_model, run_text, shipped_text_models, untrained_twin

ENGLISH = [n for n in ("english-gpt", "english-bert") if n in shipped_text_models()]
pytestmark = pytest.mark.skipif(not ENGLISH, reason="no English model in models/")
TEXT = "The cat sat on the mat, and it purred 🐈."


@pytest.fixture(scope="module", params=ENGLISH)
def tm(request):
    return load_text_model(request.param)


def float64_head(tm, ids, layer: int, head: int) -> dict[str, torch.Tensor]:
    """Q, K, V, scores, weights, output of one head in float64, from the layer's own W_Q, W_K, W_V applied to its
    normed input (the trace's residual stream entering the layer, through a float64 copy of self_attn_norm)."""
    model = tm.model
    stack = model.decoder if tm.kind == "decoder" else model.encoder
    with torch.no_grad():
        residual_in = model(torch.tensor([list(ids)]), return_trace=True).trace[layer].residual_in[0]  # (T, d)
    block = copy.deepcopy(stack.layers[layer]).double()
    attn, T, d_k = block.self_attn, len(ids), model.config.d_model // model.config.n_heads
    with torch.no_grad():
        x = block.self_attn_norm(residual_in.double())  # (T, d_model): pre-LN
        cols = slice(head * d_k, (head + 1) * d_k)
        q, k, v = (lin(x)[:, cols] for lin in (attn.w_q, attn.w_k, attn.w_v))  # (T, d_k) each
    raw = q @ k.T  # (T, T)
    scaled = raw / math.sqrt(d_k)
    mask = torch.ones(T, T, dtype=torch.bool).tril() if tm.kind == "decoder" else torch.ones(T, T, dtype=torch.bool)
    weights = torch.softmax(scaled.masked_fill(~mask, float("-inf")), dim=-1)
    return {"q": q, "k": k, "v": v, "raw_scores": raw, "scaled_scores": scaled, "mask": mask, "weights": weights,
            "output": weights @ v}


@pytest.mark.parametrize("layer, head", [(0, 0), (1, 2), (3, 3)])
def test_head_steps_equal_a_float64_recomputation_and_run_text(tm, layer, head):
    ids = encode_text(tm, TEXT).ids
    steps = text_head_steps(tm, ids, layer, head)
    assert set(steps) == set(HEAD_FIELDS)
    ref = float64_head(tm, ids, layer, head)
    for name in ("q", "k", "v", "raw_scores", "scaled_scores", "weights", "output"):
        torch.testing.assert_close(steps[name].double(), ref[name], rtol=1e-4, atol=1e-5, msg=name)
    assert torch.equal(steps["mask"], ref["mask"])
    d_k = steps["q"].shape[-1]
    assert steps["scale"] == pytest.approx(1 / math.sqrt(d_k))
    allowed = steps["mask"]
    torch.testing.assert_close(steps["masked_scores"][allowed], steps["scaled_scores"][allowed])
    assert torch.isneginf(steps["masked_scores"][~allowed]).all()
    torch.testing.assert_close(steps["weights"], run_text(tm, ids).attention[layer, head])  # the page's heatmap
    torch.testing.assert_close(steps["weights"] @ steps["v"], steps["output"], rtol=1e-5, atol=1e-6)


def test_the_mask_is_causal_for_the_gpt_and_absent_for_the_bert(tm):
    steps = text_head_steps(tm, encode_text(tm, TEXT).ids, 0, 0)
    T = steps["mask"].shape[0]
    if tm.kind == "decoder":
        assert torch.equal(steps["mask"], torch.ones(T, T, dtype=torch.bool).tril())
        assert torch.allclose(steps["weights"].triu(1), torch.zeros(T, T))
    else:
        assert steps["mask"].all()
    torch.testing.assert_close(steps["weights"].sum(-1), torch.ones(T))


def test_the_untrained_twin_has_other_weights_and_bad_indices_raise(tm):
    ids = encode_text(tm, TEXT).ids
    twin = untrained_twin(tm, seed=5)
    trained, untrained = text_head_steps(tm, ids, 2, 1), text_head_steps(twin, ids, 2, 1)
    assert not torch.allclose(trained["weights"], untrained["weights"])
    torch.testing.assert_close(untrained["weights"], run_text(twin, ids).attention[2, 1])
    torch.testing.assert_close(untrained["weights"], text_head_steps(untrained_twin(tm, seed=5), ids, 2, 1)["weights"])
    for layer, head in ((4, 0), (0, 4), (-1, 0)):
        with pytest.raises(ValueError, match="layers 0…3 and heads 0…3"):
            text_head_steps(tm, ids, layer, head)
