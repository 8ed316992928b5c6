"""core.lab.sampling_cut and core.lab.fill_mask against independent float64 recomputations: the cut marks exactly the
tokens next_token_probs removed, the renormalised bars equal it; the [MASK] guesses equal a numpy softmax of
run_text's logits; the [MASK] row of the attention equals softmax(q kᵀ · scale) recomputed from the trace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.generation import Sampling, decode, next_token_probs
from core.lab.fill_mask import mask_attention, mask_positions, top_k_at_masks
from core.lab.sampling_cut import sampling_cut
from core.text_model import encode_text, run_text

pytestmark = pytest.mark.usefixtures("one_cpu_thread")
SENTENCE = "The animal didn't cross the [MASK] because it was too [MASK]."



def _reference(logits: torch.Tensor, s: Sampling) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) in float64 numpy, written out from the rules (sort, cumulative mass, renormalise)."""
    z = logits.double().numpy()
    t = s.temperature or 1.0
    before = np.exp(z / t - (z / t).max())
    before /= before.sum()
    keep = np.ones_like(before, dtype=bool)
    if s.temperature == 0:
        keep = np.arange(len(z)) == z.argmax()
    if s.top_k:
        keep &= before >= np.sort(before)[::-1][s.top_k - 1]
    if s.top_p < 1:
        masked = np.where(keep, before, 0.0)
        order = np.argsort(-masked, kind="stable")
        mass_before = np.cumsum(masked[order]) - masked[order]
        nucleus = np.zeros_like(keep)
        nucleus[order] = mass_before < s.top_p
        keep &= nucleus
    after = np.where(keep, before, 0.0)
    return before, after / after.sum()


@pytest.mark.parametrize("s", [Sampling(1.0), Sampling(0.7, top_k=5), Sampling(1.5, top_p=0.6),
                               Sampling(1.0, top_k=12, top_p=0.8), Sampling(0.0)])  # fmt: skip
def test_cut_equals_the_rules_recomputed_in_float64(english_gpt, s):
    ids = encode_text(english_gpt, "A dog is an animal that").ids
    logits = run_text(english_gpt, ids).logits[-1]  # (V,)
    cut = sampling_cut(logits, s, top=30)
    before, after = _reference(logits, s)
    order = list(cut.ids)
    np.testing.assert_allclose(cut.before.double().numpy(), before[order], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(cut.after.double().numpy(), after[order], rtol=1e-4, atol=1e-7)
    assert np.all(np.diff(before[order]) <= 1e-7), "most likely first"
    np.testing.assert_allclose(cut.cumulative.double().numpy(), np.cumsum(np.sort(before)[::-1])[:30], atol=1e-5)
    # the cut marks exactly the tokens next_token_probs gives probability 0 (same dtype as the decoder)
    exact = next_token_probs(logits, s)[order]
    assert cut.removed == tuple(bool(p == 0) for p in exact)
    torch.testing.assert_close(cut.after, exact)
    if s.top_k and s.top_p == 1:
        assert set(cut.reason[s.top_k :]) == {"top-k"} and not any(cut.reason[: s.top_k])
    if s.temperature == 0:
        assert cut.reason[0] == "" and set(cut.reason[1:]) == {"greedy"}
    if s.temperature > 0:
        kept = cut.after > 0
        torch.testing.assert_close(cut.after[kept], cut.before[kept] / cut.kept_mass, rtol=1e-4, atol=1e-7)


def test_cut_reads_a_decoding_step(english_gpt):
    s = Sampling(1.0, top_k=8, top_p=0.9)
    decoding = decode(english_gpt.model, list(encode_text(english_gpt, "The cat").ids), 3, sampling=s, seed=1)
    for step in decoding.steps:
        cut = sampling_cut(step.logits, s)
        torch.testing.assert_close(cut.after, step.probs[list(cut.ids)])
        assert step.token in cut.ids[: sum(not r for r in cut.reason)]


def test_kv_cache_gives_identical_tokens_on_the_english_gpt(english_gpt):
    prompt = list(encode_text(english_gpt, "A dog is an animal that").ids)
    runs = [decode(english_gpt.model, prompt, 10, sampling=Sampling(1.0, top_p=0.9), use_cache=c, seed=3,
                   stop_token=english_gpt.tokenizer.special_ids["eot"]) for c in (True, False)]  # fmt: skip
    assert runs[0].tokens == runs[1].tokens
    for a, b in zip(runs[0].steps, runs[1].steps, strict=True):
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-4, atol=1e-4)


def test_mask_positions_and_the_space_before_a_mask(english_bert):
    tok = english_bert.tokenizer
    mask_id, space_id = tok.special_ids["mask"], tok.encode(" ")[0]
    raw = tok.encode(SENTENCE)  # the tokenizer alone keeps the typed spaces as tokens
    ids = list(encode_text(english_bert, SENTENCE).ids)[1:-1]  # without [CLS] ... [SEP]
    assert len(ids) == len(raw) - 2, "two bare spaces before the two masks go"
    assert space_id not in [ids[m - 1] for m in mask_positions(ids, mask_id)]
    assert [ids[m] for m in mask_positions(ids, mask_id)] == [mask_id, mask_id]
    assert [i for i in raw if not (i == space_id)] == [i for i in ids if i != space_id]
    assert list(encode_text(english_bert, "a b  c").ids)[1:-1] == tok.encode("a b  c")  # spaces elsewhere stay


def test_top_k_at_masks_equals_a_numpy_softmax_of_run_text(english_bert):
    mask_id = english_bert.tokenizer.special_ids["mask"]
    ids = encode_text(english_bert, SENTENCE).ids
    logits = run_text(english_bert, ids).logits.double().numpy()  # (T, V)
    positions = mask_positions(ids, mask_id)
    guesses = top_k_at_masks(torch.from_numpy(logits), positions, 7)
    for guess in guesses:
        z = logits[guess.position]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        best = np.argsort(-p, kind="stable")[:7]
        assert list(guess.ids) == best.tolist()
        np.testing.assert_allclose(guess.probs, p[best], rtol=1e-12)
    assert [g.position for g in guesses] == positions


def test_mask_attention_is_the_masks_query_row_recomputed_from_q_and_k(english_bert):
    mask_id = english_bert.tokenizer.special_ids["mask"]
    ids = list(encode_text(english_bert, SENTENCE).ids)
    m = mask_positions(ids, mask_id)[0]
    row = mask_attention(run_text(english_bert, ids).attention, m)  # (L, H, T)
    with torch.no_grad():
        trace = english_bert.model(torch.tensor([ids]), return_trace=True).trace
    for layer, t in enumerate(trace):
        a = t.self_attn
        q, k = a.q[0].double(), a.k[0].double()  # (H, T, d_k)
        expected = torch.softmax(q[:, m : m + 1] @ k.transpose(-1, -2) * a.scale, dim=-1)[:, 0]  # (H, T)
        torch.testing.assert_close(row[layer].double(), expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(row.sum(-1), torch.ones(row.shape[:2]))
