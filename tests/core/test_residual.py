"""core.lab.residual: the layer walk reproduces the layer's own forward; norm, activation and parameter helpers agree with
their formulas; the depth experiment shows what post-LN and pre-LN do to the residual stream."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from core.blocks import DecoderLayer, EncoderLayer, FeedForward
from core.lab.residual import (
    activation_curve,
    depth_profile,
    ffn_parameters,
    layer_parameter_counts,
    norm_comparison,
    parameter_counts,
    sentence_walk,
    spread_tokens,
    token_stats,
    walk_layer,
)
from core.masks import causal_mask


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("activation", ["relu", "swiglu"])
def test_walk_ends_where_the_layer_ends(norm_first, activation):
    torch.manual_seed(0)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    encoder = EncoderLayer(16, 4, 32, norm_first=norm_first, activation=activation).eval()
    decoder = DecoderLayer(16, 4, 32, norm_first=norm_first, activation=activation).eval()
    steps = walk_layer(encoder, x)
    with torch.no_grad():
        assert_close(steps[-1].tensor, encoder(x)[0])
        mask = causal_mask(5)
        dec_steps = walk_layer(decoder, x, memory, mask)
        assert_close(dec_steps[-1].tensor, decoder(x, memory, mask)[0])
    assert len(steps) == 10 and len(dec_steps) == 15
    assert steps[0].shape == (2, 5, 16)
    names = [s.name for s in dec_steps]
    assert "cross-attention: weights" in names
    assert dict((s.name, s.shape) for s in dec_steps)["cross-attention: weights"] == (2, 4, 5, 7)
    assert dict((s.name, s.shape) for s in steps)["FFN hidden"] == (2, 5, 32)
    norm_positions = [i for i, n in enumerate(names) if "Norm" in n]
    add_positions = [i for i, n in enumerate(names) if n.startswith("add")]
    # post-LN: a norm right after every add; pre-LN: a norm before every sub-layer and the walk ends on an add
    assert (norm_positions == [i + 1 for i in add_positions]) != norm_first
    assert names[-1].startswith("add") == norm_first


def test_sentence_walk_is_seeded():
    a = sentence_walk(["a", "b", "c"], "decoder", seed=3, d_model=16, n_heads=2, d_ff=32)
    b = sentence_walk(["a", "b", "c"], "decoder", seed=3, d_model=16, n_heads=2, d_ff=32)
    assert all(torch.equal(x.tensor, y.tensor) for x, y in zip(a, b, strict=True))
    assert a[0].shape == (1, 3, 16)
    with pytest.raises(ValueError, match="encoder"):
        sentence_walk(["a"], "bidirectional")


def test_layernorm_centres_and_scales_rmsnorm_only_scales():
    x = spread_tokens(6, 32, 3.0, torch.Generator().manual_seed(0))
    stats = norm_comparison(x)
    assert_close(stats["input"][0], x.mean(-1))
    mean, std = stats["LayerNorm"]
    assert_close(mean, torch.zeros(6), atol=1e-5, rtol=0)
    assert_close(std, torch.ones(6), atol=1e-4, rtol=0)
    rms_mean, rms_std = stats["RMSNorm"]
    assert_close(rms_mean**2 + rms_std**2, torch.ones(6), atol=1e-4, rtol=0)  # RMS² = mean² + var = 1
    assert float(rms_mean.abs().max()) > 0.3, "RMSNorm keeps the token means (not centred)"


def test_token_stats_shapes():
    mean, std = token_stats(torch.ones(3, 4))
    assert_close(mean, torch.ones(3))
    assert_close(std, torch.zeros(3))


def test_activation_curves_are_the_ffn_nonlinearities():
    xs = torch.linspace(-3, 3, 13)
    assert_close(activation_curve("relu", xs), F.relu(xs))
    assert_close(activation_curve("gelu", xs), F.gelu(xs))
    assert_close(activation_curve("swiglu", xs), F.silu(xs) * xs)


@pytest.mark.parametrize("activation,expected", [
    ("relu", 2 * 512 * 2048 + 2048 + 512),
    ("gelu", 2 * 512 * 2048 + 2048 + 512),
    ("swiglu", 3 * 512 * 1365 + 2 * 1365 + 512),
])
def test_ffn_parameters(activation, expected):
    width = 1365 if activation == "swiglu" else 2048
    assert ffn_parameters(512, width, activation) == expected
    assert expected == sum(p.numel() for p in FeedForward(512, width, activation).parameters())


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_layer_parameter_counts_add_up_to_the_live_module(kind):
    counts = layer_parameter_counts(kind, 64, 4, 256)
    layer = (EncoderLayer if kind == "encoder" else DecoderLayer)(64, 4, 256)
    assert sum(counts.values()) == sum(p.numel() for p in layer.parameters())
    assert counts == parameter_counts(layer)
    assert counts["self_attn.w_q"] == 64 * 64 + 64
    assert counts["ff.linear1"] == 64 * 256 + 256
    assert ("cross_attn.w_k" in counts) == (kind == "decoder")


def test_depth_profile_post_ln_stays_normalised_pre_ln_grows():
    post = depth_profile(12, 32, 4, 64, norm_first=False, seed=0)
    pre = depth_profile(12, 32, 4, 64, norm_first=True, seed=0)
    assert post.residual_rms.shape == (13,) and post.grad_norm.shape == (12,)
    assert_close(post.residual_rms[1:], torch.ones(12), atol=1e-3, rtol=0)  # LayerNorm output, γ = 1, β = 0
    assert float(pre.residual_rms[-1]) > 1.2 * float(pre.residual_rms[1])  # a clean sum keeps growing
    assert bool((post.grad_norm > 0).all() and (pre.grad_norm > 0).all())


@pytest.mark.cuda
def test_walk_and_depth_give_the_same_numbers_on_cuda():
    cpu, gpu = sentence_walk(["a", "b", "c"], "decoder"), sentence_walk(["a", "b", "c"], "decoder", device="cuda")
    for a, b in zip(cpu, gpu, strict=True):
        assert_close(b.tensor.cpu(), a.tensor, atol=1e-5, rtol=1e-4)
    pa, pb = (depth_profile(6, 32, 4, 64, norm_first=True, device=d) for d in ("cpu", "cuda"))
    assert_close(pb.residual_rms, pa.residual_rms, atol=1e-5, rtol=1e-4)
    assert_close(pb.grad_norm, pa.grad_norm, atol=1e-5, rtol=1e-3)
