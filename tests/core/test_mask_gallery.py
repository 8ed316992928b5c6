"""core.mask_gallery: the gallery's masks are core.masks' own, expanded to (L, L); one attention call for all."""

from __future__ import annotations

import torch

from core.attention import attention
from core.mask_gallery import GALLERY, gallery_attention, gallery_masks
from core.masks import causal_mask, padding_mask, prefix_lm_mask, sliding_window_mask


def test_gallery_masks_are_the_core_masks():
    masks = gallery_masks(6, window=2, prefix_len=3, n_pad=2)
    assert list(masks) == list(GALLERY)
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
