"""Vision Transformer (Dosovitskiy et al. 2021): an image is a sequence of patches.

    image (C, H, W) -> patches (N, C·p·p), N = (H/p)·(W/p), raster order (left to right, top to bottom)
    -> linear patch embedding (N, d) -> prepend [CLS] (N+1, d) -> + learned positions (N+1, d)
    -> encoder layers (the same :class:`core.blocks.EncoderLayer` as text) -> [CLS] output classifies
    (``n_classes > 0``: logits = W_cls · LayerNorm(output)[CLS] + b).

Also here: the identity-projection baseline (attention of the raw patches with W_Q = W_K = W_V = I: pixel
similarity, no learned weight) and attention rollout (Abnar & Zuidema 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.attention import attention
from core.blocks import EncoderLayer, LayerNorm, LayerTrace
from core.positional import LearnedPositionalEmbedding

IMAGE_SIZE = 96  # ViTConfig's default image side


# ---------------------------------------------------------------------------------------------- patches
def patch_grid(height: int, width: int, patch: int) -> tuple[int, int]:
    """(rows, cols) of the patch grid; ValueError if ``patch`` does not divide both sides."""
    if patch < 1 or height % patch or width % patch:
        raise ValueError(
            f"patch size {patch} must divide the image sides {height}×{width}; try one of "
            f"{[p for p in range(1, min(height, width) + 1) if height % p == 0 and width % p == 0]}"
        )
    return height // patch, width // patch


def patchify(images: Tensor, patch: int) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, N, C·p·p)``: patch n = (row n // cols, col n % cols), features in (C, p, p) order
    (the order of a ``Conv2d(C, d, p, stride=p)`` kernel, so the linear embedding equals that convolution)."""
    B, C, H, W = images.shape
    rows, cols = patch_grid(H, W, patch)
    x = images.reshape(B, C, rows, patch, cols, patch)  # (B, C, rows, p, cols, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p)
    return x.reshape(B, rows * cols, C * patch * patch)  # (B, N, C·p·p)


def unpatchify(patches: Tensor, patch: int, height: int, width: int) -> Tensor:
    """Inverse of :func:`patchify`: ``(B, N, C·p·p)`` -> ``(B, C, H, W)``."""
    B, N, D = patches.shape
    rows, cols = patch_grid(height, width, patch)
    C = D // (patch * patch)
    x = patches.reshape(B, rows, cols, C, patch, patch).permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, p, cols, p)
    return x.reshape(B, C, height, width)


class PatchEmbedding(nn.Module):
    """Linear projection of flattened patches: ``(B, C, H, W)`` -> ``(B, N, d_model)``.

    E = patchify(x) W_Eᵀ + b, identical to ``Conv2d(C, d_model, kernel_size=p, stride=p)`` with the same weights.
    """

    def __init__(self, patch: int, d_model: int, channels: int = 3) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(channels * patch * patch, d_model)  # W_E: (d_model, C·p·p)

    def forward(self, images: Tensor) -> Tensor:
        return self.proj(patchify(images, self.patch))  # (B, N, d_model)


# ---------------------------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class ViTConfig:
    """A tiny ViT: ``image_size`` square RGB images cut into ``patch_size`` patches."""

    image_size: int = IMAGE_SIZE
    patch_size: int = 16
    channels: int = 3
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    n_classes: int = 0  # > 0: a linear head on the final [CLS] vector gives class logits
    dropout: float = 0.0

    @property
    def grid(self) -> tuple[int, int]:
        return patch_grid(self.image_size, self.image_size, self.patch_size)

    @property
    def n_patches(self) -> int:
        rows, cols = self.grid
        return rows * cols


@dataclass(frozen=True)
class ViTTrace:
    """Every stage of one ViT forward pass (B images, N patches, d = d_model).

    patches ``(B, N, C·p·p)`` -> patch_tokens ``(B, N, d)`` -> with_cls ``(B, N+1, d)`` (+ positions ``(N+1, d)``)
    -> embedded ``(B, N+1, d)`` -> one :class:`LayerTrace` per encoder layer -> output ``(B, N+1, d)`` (final norm)
    -> logits ``(B, n_classes)`` from output[:, 0] (None without a classification head).
    """

    patches: Tensor
    patch_tokens: Tensor
    with_cls: Tensor
    positions: Tensor
    embedded: Tensor
    layers: tuple[LayerTrace, ...]
    output: Tensor
    logits: Tensor | None = None

    def stages(self, images: Tensor) -> list[tuple[str, tuple[int, ...], str]]:
        """(stage, shape, what happened) from the input ``images`` to the output: the shapes table of a ViT."""
        d = self.embedded.shape[-1]
        return [
            ("image", tuple(images.shape), "B × C × H × W"),
            ("patches", tuple(self.patches.shape), "B × N × C·p·p: each patch flattened, raster order"),
            ("patch embedding", tuple(self.patch_tokens.shape), f"one shared linear map C·p·p → {d}"),
            ("+ [CLS] token", tuple(self.with_cls.shape), "a learned vector prepended: N + 1 tokens"),
            ("positions", tuple(self.positions.shape), "one learned vector per token position"),
            ("embedded = tokens + positions", tuple(self.embedded.shape), "what the first encoder layer reads"),
            *[(f"after encoder layer {i + 1}", tuple(t.residual_out.shape), "pre-LN self-attention + FFN")
              for i, t in enumerate(self.layers)],
            ("output (final LayerNorm)", tuple(self.output.shape), "row 0 ([CLS]) would feed a classifier"),
        ]

    def attention_weights(self) -> Tensor:
        """All layers' attention weights stacked: ``(n_layers, B, H, N+1, N+1)``."""
        return torch.stack([layer.self_attn.weights for layer in self.layers])


class TinyViT(nn.Module):
    """Patch embedding + [CLS] + learned positions + pre-LN encoder layers (GELU FFN) + final LayerNorm
    (+ a linear classification head on [CLS] when ``config.n_classes > 0``)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = PatchEmbedding(c.patch_size, c.d_model, c.channels)
        self.cls_token = nn.Parameter(torch.randn(1, 1, c.d_model) * 0.02)  # (1, 1, d)
        self.positions = LearnedPositionalEmbedding(c.n_patches + 1, c.d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, norm_first=True, activation="gelu", dropout=c.dropout)
            for _ in range(c.n_layers)
        )
        self.norm = LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.n_classes) if c.n_classes else None  # W_cls: (n_classes, d)

    def forward(self, images: Tensor) -> ViTTrace:
        """images ``(B, C, H, W)`` in [0, 1] -> :class:`ViTTrace`."""
        B = images.shape[0]
        patches = patchify(images, self.config.patch_size)  # (B, N, C·p·p)
        tokens = self.patch_embed.proj(patches)  # (B, N, d)
        with_cls = torch.cat([self.cls_token.expand(B, -1, -1), tokens], dim=1)  # (B, N+1, d)
        positions = self.positions(torch.arange(with_cls.shape[1], device=images.device))  # (N+1, d)
        x = with_cls + positions  # (B, N+1, d)
        embedded, traces = x, []
        for layer in self.layers:
            x, trace = layer(x)  # (B, N+1, d)
            traces.append(trace)
        output = self.norm(x)  # (B, N+1, d)
        logits = self.head(output[:, 0]) if self.head is not None else None  # (B, n_classes) from [CLS]
        return ViTTrace(patches, tokens, with_cls, positions, embedded, tuple(traces), output, logits)


def seeded_vit(config: ViTConfig, seed: int) -> TinyViT:
    """A randomly initialised (untrained) TinyViT, reproducible from ``seed``, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyViT(config).eval()


def pixel_similarity_attention(patches: Tensor) -> Tensor:
    """The identity-projection baseline: attention on the raw pixels, Q = K = V = the patches, centred over the
    image (W_Q = W_K = I). Not an untrained model: random W_Q, W_K give near-uniform maps instead.

    patches ``(N, C·p·p)`` -> weights ``(N, N)`` = softmax(X Xᵀ / √(C·p·p)), X = patches - mean patch.
    No learned weight is involved, so a patch attends to the patches that look like it.
    """
    x = patches - patches.mean(dim=0, keepdim=True)  # (N, D)
    return attention(x, x, x).weights  # (N, N)


def attention_rollout(weights: Tensor) -> Tensor:
    """Attention rollout (Abnar & Zuidema 2020): how much of each input token reaches each position after all layers.

    weights ``(L, ..., H, T, T)``: layer l's per-head weights A_l,h (rows sum to 1), e.g.
    :meth:`ViTTrace.attention_weights` ``(L, B, H, T, T)``. Per layer the heads are averaged and the residual path
    is added as the identity, then rows renormalised: Â_l = (mean_h A_l,h + I) / 2. The layers multiply,
    R = Â_L · … · Â_2 · Â_1, so R[i, j] is the share of token j in position i's output. -> ``(..., T, T)``.
    """
    mixed = weights.mean(dim=-3)  # (L, ..., T, T): average over heads
    eye = torch.eye(mixed.shape[-1], dtype=mixed.dtype, device=mixed.device)
    mixed = mixed + eye  # the residual connection carries each token's own value
    mixed = mixed / mixed.sum(dim=-1, keepdim=True)  # rows sum to 1 again
    rollout = mixed[0]  # (..., T, T)
    for layer in mixed[1:]:
        rollout = layer @ rollout  # Â_l · R_(l-1): a later layer reads what the earlier ones mixed
    return rollout


def cls_attention(trace: ViTTrace) -> Tensor:
    """[CLS]'s weight on each patch, every layer and head: ``(L, B, H, N)`` = A_l,h[0, 1:] (row 0 is the [CLS]
    query; the key [CLS] itself, column 0, is dropped, so a row sums to 1 - A_l,h[0, 0])."""
    return trace.attention_weights()[..., 0, 1:]


def cls_rollout(trace: ViTTrace) -> Tensor:
    """How much of each patch reaches the final [CLS] vector by :func:`attention_rollout`: ``(B, N)`` = R[0, 1:]."""
    return attention_rollout(trace.attention_weights())[..., 0, 1:]
