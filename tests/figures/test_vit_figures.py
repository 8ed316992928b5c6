"""figures.vit's digit builders: each carries exactly the numbers it was given, with its titles."""

from __future__ import annotations

import numpy as np

from figures.vit import class_probability_bars, digit_to_rgb, patch_grid_panels


def test_digit_to_rgb_is_dark_ink_on_white():
    digit = np.array([[0.0, 8.0], [16.0, 20.0]])
    rgb = digit_to_rgb(digit)
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_allclose(rgb[..., 0], [[1.0, 0.5], [0.0, 0.0]])
    assert np.all(rgb[..., 0] == rgb[..., 2])
    big = digit_to_rgb(digit, scale=3)
    assert big.shape == (6, 6, 3) and np.all(big[3:, :3, 1] == 0.0) and np.all(big[:3, 3:, 1] == 0.5)


def test_class_probability_bars_mark_the_label():
    p = np.linspace(0, 1, 10) / np.linspace(0, 1, 10).sum()
    fig = class_probability_bars(p, "predicts 9", label=3)
    np.testing.assert_allclose(fig.data[0].y, p)
    assert list(fig.data[0].x) == [str(k) for k in range(10)] and fig.layout.title.text == "predicts 9"
    colours = fig.data[0].marker.color
    assert colours[3] != colours[0] and len(set(colours)) == 2


def test_patch_grid_panels_shared_and_per_panel_scales():
    stack = np.random.default_rng(0).random((3, 4, 4))
    shared = patch_grid_panels(stack, ["a", "b", "c"], "maps")
    assert shared.layout.title.text == "maps (shared colour scale)"
    for p in range(3):
        np.testing.assert_allclose(shared.data[p].z, stack[p])
    assert shared.data[0].zmin == stack.min() and shared.data[0].zmax == stack.max()
    own = patch_grid_panels(stack, ["a", "b", "c"], "maps", shared_scale=False, cols=3)
    for p in range(3):
        np.testing.assert_allclose(own.data[p].customdata, stack[p])  # hover and export: the weights
        np.testing.assert_allclose(own.data[p].z, stack[p] / stack[p].max())
    assert [a.text for a in own.layout.annotations][:3] == ["a", "b", "c"]
