"""core.lab.mask_gallery: the gallery's masks are core.masks' own, expanded to (L, L); one attention call for all; the
cross-attention mask is (L_target, L_source) with the source padding masked for every query."""

from __future__ import annotations

import torch

from core.attention import attention
from core.lab.mask_gallery import (
    GALLERY,
    SELF_ATTENTION_KINDS,
    cross_projections,
    gallery_attention,
    gallery_cross_mask,
    gallery_masks,
)
from core.lab.toy_inputs import seeded_projections
from core.masks import causal_mask, cross_mask, padding_mask, prefix_lm_mask, sliding_window_mask


def test_gallery_masks_are_the_core_masks():
    masks = gallery_masks(6, window=2, prefix_len=3, n_pad=2)
    assert list(masks) == list(SELF_ATTENTION_KINDS) == [kind for kind in GALLERY if kind != "cross"]
    assert all(m.shape == (6, 6) and m.dtype == torch.bool for m in masks.values())
    assert masks["none"].all()
    assert torch.equal(masks["causal"], causal_mask(6))
    assert torch.equal(masks["padding"], padding_mask(torch.tensor([4]), 6)[0, 0].expand(6, 6))
    assert not masks["padding"][:, 4:].any() and masks["padding"][:, :4].all()
    assert torch.equal(masks["sliding_window"], sliding_window_mask(6, 2, causal=False))
    assert torch.equal(masks["prefix_lm"], prefix_lm_mask(6, 3))


def test_also_causal_ands_every_mask():
    masks = gallery_masks(5, window=2, prefix_len=2, n_pad=1, also_causal=True)
    for m in masks.values():
        assert not torch.triu(m, 1).any()
    assert torch.equal(masks["none"], causal_mask(5))


def test_gallery_attention_equals_one_call_per_mask_and_handles_all_padding():
    masks = gallery_masks(4, window=1, prefix_len=1, n_pad=4)  # every key is padding
    q, k, v = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2)
    trace = gallery_attention(masks, q, k, v)
    assert trace.weights.shape == (5, 4, 4)
    for i, m in enumerate(masks.values()):
        torch.testing.assert_close(trace.weights[i], attention(q, k, v, m).weights)
    padded = trace.weights[list(masks).index("padding")]
    assert torch.equal(padded, torch.zeros(4, 4))  # fully masked rows: zeros, never NaN


def test_cross_mask_is_target_by_source_with_the_source_padding_masked():
    assert "cross" in GALLERY
    mask = gallery_cross_mask(3, 5, 2)  # 3 target queries, 5 source keys, the last 2 padding
    assert mask.shape == (3, 5) and mask.dtype == torch.bool
    assert torch.equal(mask, cross_mask(3, 5, torch.tensor([3]))[0, 0])
    assert mask[:, :3].all() and not mask[:, 3:].any()  # padding keys masked for every query
    assert gallery_cross_mask(4, 2, 0).all() and not gallery_cross_mask(4, 2, 9).any()


def test_cross_attention_on_non_square_inputs_ignores_the_padding():
    proj = seeded_projections(6, 4, 0)
    x_target, x_source = torch.randn(3, 6), torch.randn(5, 6)
    q, k, v = cross_projections(proj, x_target, x_source)
    assert (q.shape, k.shape, v.shape) == ((3, 4), (5, 4), (5, 4))
    torch.testing.assert_close(q, x_target @ proj.w_q)
    torch.testing.assert_close(k, x_source @ proj.w_k)
    weights = attention(q, k, v, gallery_cross_mask(3, 5, 2)).weights  # (L_t, L_s)
    assert weights.shape == (3, 5) and torch.equal(weights[:, 3:], torch.zeros(3, 2))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    torch.testing.assert_close(weights[:, :3], attention(q, k[:3], v[:3]).weights)  # = attention over the real keys
