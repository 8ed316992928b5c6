"""Masks are values: each is compared with the rule written out as a double loop over (query, key)."""

from __future__ import annotations

import pytest
import torch

from core.masks import (
    MASK_KINDS,
    causal_mask,
    combine_masks,
    cross_mask,
    make_mask,
    padding_mask,
    prefix_lm_mask,
    sliding_window_mask,
)


def by_rule(lq: int, lk: int, rule) -> torch.Tensor:
    """mask[i, j] = rule(p, j) with p = i + lk - lq the query's absolute position."""
    return torch.tensor([[rule(i + lk - lq, j) for j in range(lk)] for i in range(lq)], dtype=torch.bool)


SHAPES = [(1, 1), (5, 5), (3, 7), (7, 3)]


@pytest.mark.parametrize("lq, lk", SHAPES)
def test_causal(lq, lk):
    assert torch.equal(causal_mask(lq, lk), by_rule(lq, lk, lambda p, j: j <= p))


def test_causal_square_is_lower_triangle_and_cache_rows_are_its_last_rows():
    assert torch.equal(causal_mask(6), torch.ones(6, 6).tril().bool())
    assert torch.equal(causal_mask(2, 6), causal_mask(6)[-2:])


@pytest.mark.parametrize("lq, lk", SHAPES)
@pytest.mark.parametrize("window", [1, 2, 4])
@pytest.mark.parametrize("causal", [True, False])
def test_sliding_window(lq, lk, window, causal):
    def rule(p, j):
        return (p - window < j <= p) if causal else abs(p - j) < window

    assert torch.equal(sliding_window_mask(lq, window, lk, causal=causal), by_rule(lq, lk, rule))


def test_sliding_window_as_wide_as_the_sequence_is_causal():
    assert torch.equal(sliding_window_mask(6, 6), causal_mask(6))
    with pytest.raises(ValueError, match="window"):
        sliding_window_mask(4, 0)


@pytest.mark.parametrize("length, prefix_len", [(1, 0), (6, 0), (6, 3), (6, 6)])
def test_prefix_lm(length, prefix_len):
    expected = by_rule(length, length, lambda p, j: j <= p or j < prefix_len)
    assert torch.equal(prefix_lm_mask(length, prefix_len), expected)


def test_padding_mask_shape_and_values():
    mask = padding_mask(torch.tensor([3, 0, 5]), 5)
    assert mask.shape == (3, 1, 1, 5) and mask.dtype == torch.bool
    for b, n in enumerate([3, 0, 5]):
        assert mask[b, 0, 0].tolist() == [j < n for j in range(5)]


def test_cross_mask():
    assert torch.equal(cross_mask(2, 4), torch.ones(2, 4, dtype=torch.bool))
    mask = cross_mask(3, 4, torch.tensor([4, 1]))
    assert mask.shape == (2, 1, 3, 4)
    assert mask[1, 0].tolist() == [[True, False, False, False]] * 3


def test_combine_masks_is_logical_and_and_ignores_none():
    causal, pad = causal_mask(4), padding_mask(torch.tensor([2, 4]), 4)
    combined = combine_masks(None, causal, pad)
    assert combined.shape == (2, 1, 4, 4)
    assert torch.equal(combined, causal & pad)
    assert combine_masks(None, None) is None
    assert combine_masks(causal) is causal


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_make_mask_by_name(kind):
    lengths = torch.tensor([4, 2])
    mask = make_mask(kind, 4, window=2, prefix_len=1, lengths=lengths)
    expected = {
        "none": None,
        "causal": causal_mask(4),
        "padding": padding_mask(lengths, 4),
        "sliding_window": sliding_window_mask(4, 2),
        "prefix_lm": prefix_lm_mask(4, 1),
        "cross": cross_mask(4, 4, lengths),
    }[kind]
    assert (mask is None and expected is None) or torch.equal(mask, expected)


def test_make_mask_explains_bad_input():
    with pytest.raises(ValueError, match="lengths"):
        make_mask("padding", 3)
    with pytest.raises(ValueError, match="choose one of"):
        make_mask("diagonal", 3)
    with pytest.raises(ValueError, match="Lq == Lk"):
        make_mask("prefix_lm", 3, 5)
