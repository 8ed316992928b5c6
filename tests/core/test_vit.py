"""core.vit: patchify against explicit loops, the patch embedding against Conv2d, the tiny ViT's shapes and
attention, the raw-pixel attention and attention rollout against float64 references, the classification head."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from core.vit import (
    PatchEmbedding,
    ViTConfig,
    attention_rollout,
    cls_attention,
    cls_rollout,
    patch_grid,
    patchify,
    pixel_similarity_attention,
    seeded_vit,
    unpatchify,
)


@pytest.mark.parametrize("height,width,patch", [(8, 8, 4), (12, 8, 4), (6, 9, 3), (16, 16, 16)])
def test_patchify_matches_an_explicit_loop(height, width, patch):
    images = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    rows, cols = patch_grid(height, width, patch)
    expected = torch.stack([
        torch.stack([images[b, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch].reshape(-1)
                     for r in range(rows) for c in range(cols)])
        for b in range(2)
    ])  # (B, N, C·p·p): raster order, features in (C, p, p) order
    assert_close(patchify(images, patch), expected)
    assert_close(unpatchify(patchify(images, patch), patch, height, width), images)


def test_patch_size_that_does_not_divide_is_refused_with_alternatives():
    with pytest.raises(ValueError, match=r"must divide.*\[1, 2, 4, 5, 10, 20\]"):
        patchify(torch.zeros(1, 3, 20, 20), 3)


def test_patch_embedding_equals_a_strided_convolution():
    torch.manual_seed(0)
    embed = PatchEmbedding(patch=4, d_model=16)
    conv = torch.nn.Conv2d(3, 16, kernel_size=4, stride=4)
    with torch.no_grad():
        conv.weight.copy_(embed.proj.weight.view(16, 3, 4, 4))
        conv.bias.copy_(embed.proj.bias)
    images = torch.rand(2, 3, 12, 8)
    reference = conv(images).flatten(2).transpose(1, 2)  # (B, N, d): conv output in raster order
    assert_close(embed(images), reference, atol=1e-5, rtol=1e-5)


def test_tiny_vit_shapes_and_attention_rows():
    config = ViTConfig(image_size=32, patch_size=8, d_model=32, n_heads=4, n_layers=3, d_ff=64)
    model = seeded_vit(config, seed=0)
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        trace = model(images)
    n = config.n_patches
    assert n == 16 and config.grid == (4, 4)
    assert trace.patches.shape == (2, n, 3 * 8 * 8)
    assert trace.patch_tokens.shape == (2, n, 32)
    assert trace.with_cls.shape == trace.embedded.shape == trace.output.shape == (2, n + 1, 32)
    assert trace.positions.shape == (n + 1, 32)
    assert_close(trace.with_cls[:, 0], model.cls_token[0].expand(2, -1))  # [CLS] is token 0
    assert_close(trace.embedded, trace.with_cls + trace.positions)
    weights = trace.attention_weights()
    assert weights.shape == (3, 2, 4, n + 1, n + 1)
    assert_close(weights.sum(-1), torch.ones(3, 2, 4, n + 1))
    stages = trace.stages(images)
    assert stages[0][1] == (2, 3, 32, 32) and stages[-1][1] == (2, n + 1, 32)


def test_seeded_vit_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = seeded_vit(ViTConfig(), 5), seeded_vit(ViTConfig(), 5)
    assert torch.equal(torch.rand(1), before), "building the model must not consume the global RNG"
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(seeded_vit(ViTConfig(), 6).cls_token, a.cls_token)


def test_pixel_similarity_attention_matches_a_float64_reference():
    patches = torch.rand(9, 12, generator=torch.Generator().manual_seed(1))
    x = (patches - patches.mean(0)).double()
    expected = torch.softmax(x @ x.T / math.sqrt(12), dim=-1)
    assert_close(pixel_similarity_attention(patches).double(), expected, atol=1e-6, rtol=1e-5)


def test_identical_patches_share_their_weight():
    cells = (torch.arange(32)[:, None] // 4 + torch.arange(32)[None, :] // 4) % 2  # (32, 32) checkerboard, 4-px cells
    image = cells.float().expand(1, 3, 32, 32)
    weights = pixel_similarity_attention(patchify(image, 8)[0])  # every 8×8 patch is the same 2×2 checker
    assert_close(weights, torch.full((16, 16), 1 / 16))


def naive_rollout(weights: np.ndarray) -> np.ndarray:
    """Abnar & Zuidema's rollout written out in float64 loops: weights (L, H, T, T) -> (T, T)."""
    n_layers, n_heads, t, _ = weights.shape
    rollout = np.eye(t)
    for layer in range(n_layers):
        mixed = np.zeros((t, t))
        for i in range(t):
            for j in range(t):
                mixed[i, j] = sum(weights[layer, h, i, j] for h in range(n_heads)) / n_heads + (1.0 if i == j else 0.0)
            mixed[i] /= mixed[i].sum()
        rollout = mixed @ rollout  # a later layer mixes what the earlier ones produced
    return rollout


@pytest.mark.parametrize("n_layers,n_heads,t", [(1, 1, 3), (2, 4, 5), (4, 3, 7)])
def test_attention_rollout_matches_a_float64_reference(n_layers, n_heads, t):
    scores = torch.randn(n_layers, 2, n_heads, t, t, generator=torch.Generator().manual_seed(t))
    weights = scores.softmax(-1)  # (L, B, H, T, T): rows sum to 1, as attention weights do
    rollout = attention_rollout(weights)  # float32
    assert rollout.shape == (2, t, t)
    for b in range(2):
        expected = torch.from_numpy(naive_rollout(weights[:, b].double().numpy()))
        assert_close(rollout[b].double(), expected, atol=1e-6, rtol=1e-5)
    assert_close(rollout.sum(-1), torch.ones(2, t))  # a row stays a distribution over the input tokens


def test_rollout_of_one_uniform_layer_mixes_half_self_half_uniform():
    t = 4
    rollout = attention_rollout(torch.full((1, 2, t, t), 1 / t))
    assert_close(rollout, 0.5 * torch.eye(t) + 0.5 / t)


def test_classifier_head_reads_the_final_cls_vector_and_cls_maps_index_row_zero():
    config = ViTConfig(image_size=8, patch_size=2, channels=1, d_model=16, n_heads=2, n_layers=3, d_ff=32,
                       n_classes=10)
    model = seeded_vit(config, seed=1)
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        trace = model(images)
        assert_close(trace.logits, trace.output[:, 0] @ model.head.weight.T + model.head.bias)
    weights = trace.attention_weights()  # (L, B, H, 17, 17)
    assert trace.logits.shape == (3, 10) and weights.shape == (3, 3, 2, 17, 17)
    assert_close(cls_attention(trace), weights[:, :, :, 0, 1:])
    for b in range(3):
        expected = naive_rollout(weights[:, b].double().numpy())[0, 1:]
        assert_close(cls_rollout(trace)[b].double(), torch.from_numpy(expected), atol=1e-6, rtol=1e-5)
    assert seeded_vit(ViTConfig(), 0)(torch.rand(1, 3, 96, 96)).logits is None  # no head without classes


@pytest.mark.cuda
def test_tiny_vit_on_cuda_matches_cpu():
    images = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cpu = seeded_vit(ViTConfig(), 0)(images).attention_weights()
        gpu = seeded_vit(ViTConfig(), 0).to("cuda")(images.to("cuda")).attention_weights()
    assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-4)
