"""Vision Transformer (Dosovitskiy et al. 2021): an image is a sequence of patches.

    image (C, H, W) -> patches (N, C·p·p), N = (H/p)·(W/p), raster order (left to right, top to bottom)
    -> linear patch embedding (N, d) -> prepend [CLS] (N+1, d) -> + learned positions (N+1, d)
    -> encoder layers (the same :class:`core.blocks.EncoderLayer` as text) -> [CLS] output classifies
    (``n_classes > 0``: logits = W_cls · LayerNorm(output)[CLS] + b).

Also here: built-in generated images (no downloads), square resizing of uploads, the identity-projection baseline
(attention of the raw patches with W_Q = W_K = W_V = I: pixel similarity, no learned weight) and attention rollout
(Abnar & Zuidema 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.attention import attention
from core.blocks import EncoderLayer, LayerNorm, LayerTrace
from core.positional import LearnedPositionalEmbedding

IMAGE_SIZE = 96  # every image is shown to the ViT as IMAGE_SIZE × IMAGE_SIZE RGB
GENERATED_IMAGES: tuple[str, ...] = ("shapes", "checkerboard", "circle", "stripes", "gradient", "rings", "quadrants")
CLS_LABEL = "[CLS]"


# ---------------------------------------------------------------------------------------------- images
def generated_image(name: str, size: int = IMAGE_SIZE) -> np.ndarray:
    """A built-in test image. -> ``(size, size, 3)`` float32 RGB in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size  # (size, size) each, in [0, 1)
    rgb = np.ones((size, size, 3), dtype=np.float32)  # white background

    def paint(where: np.ndarray, colour: tuple[float, float, float]) -> None:
        rgb[where] = colour

    if name == "shapes":  # three coloured shapes on white: same-colour patches look alike
        paint((abs(x - 0.25) < 0.15) & (abs(y - 0.28) < 0.15), (0.85, 0.15, 0.15))  # red square
        paint((x - 0.72) ** 2 + (y - 0.3) ** 2 < 0.16**2, (0.15, 0.35, 0.85))  # blue disc
        paint((y > 0.55) & (y < 0.9) & (abs(x - 0.5) < (y - 0.55) * 0.9), (0.15, 0.65, 0.25))  # green triangle
    elif name == "checkerboard":
        rgb[:] = (((x * 8).astype(int) + (y * 8).astype(int)) % 2)[..., None] * 0.9 + 0.05
    elif name == "circle":
        rgb[:] = (0.55, 0.75, 0.95)
        paint((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.3**2, (0.95, 0.6, 0.1))
    elif name == "stripes":
        rgb[:] = ((x * 6).astype(int) % 2)[..., None] * np.array([0.1, 0.5, 0.4], dtype=np.float32) + 0.3
    elif name == "gradient":
        rgb = np.stack([x, y, 1.0 - x], axis=-1)
    elif name == "rings":
        r = np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2)
        rgb[:] = ((r * 10).astype(int) % 2)[..., None] * np.array([0.7, 0.2, 0.6], dtype=np.float32) + 0.2
    elif name == "quadrants":
        paint((x < 0.5) & (y < 0.5), (0.9, 0.2, 0.2))
        paint((x >= 0.5) & (y < 0.5), (0.2, 0.7, 0.2))
        paint((x < 0.5) & (y >= 0.5), (0.2, 0.3, 0.9))
        paint((x >= 0.5) & (y >= 0.5), (0.95, 0.85, 0.2))
    else:
        raise ValueError(f"unknown generated image {name!r}; choose one of {GENERATED_IMAGES}")
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def image_to_tensor(image: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 (0..255) or float (0..1) array -> ``(3, H, W)`` float32 in [0, 1]."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return torch.from_numpy(array.astype(np.float32) / scale).permute(2, 0, 1).contiguous()  # (3, H, W)


def square_resize(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Centre-crop to a square, then resize (antialiased bilinear). ``(H, W, 3)`` -> ``(size, size, 3)`` float32."""
    pixels = image_to_tensor(image)  # (3, H, W)
    _, h, w = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = pixels[:, top : top + side, left : left + side]  # (3, side, side)
    resized = F.interpolate(square[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).clamp(0, 1).numpy()  # (size, size, 3)


# ---------------------------------------------------------------------------------------------- patches
def valid_patch_sizes(size: int = IMAGE_SIZE, *, min_patch: int = 4, min_patches_per_side: int = 2) -> list[int]:
    """Patch sizes that tile a ``size × size`` image exactly, leaving at least 2 patches per side."""
    return [p for p in range(min_patch, size // min_patches_per_side + 1) if size % p == 0]


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


def token_labels(n_patches: int) -> list[str]:
    """Sequence labels: ``[CLS]`` then one per patch in raster order (p0, p1, ...)."""
    return [CLS_LABEL] + [f"p{i}" for i in range(n_patches)]


def pixel_similarity_attention(patches: Tensor) -> Tensor:
    """The identity-projection baseline: attention on the raw pixels, Q = K = V = the patches, centred over the
    image (W_Q = W_K = I). Not an untrained model: random W_Q, W_K give near-uniform maps instead.

    patches ``(N, C·p·p)`` -> weights ``(N, N)`` = softmax(X Xᵀ / √(C·p·p)), X = patches - mean patch.
    No learned weight is involved, so a patch attends to the patches that look like it.
    """
    x = patches - patches.mean(dim=0, keepdim=True)  # (N, D)
    return attention(x, x, x).weights  # (N, N)


def weights_to_grid(row: Tensor, grid: tuple[int, int], *, has_cls: bool = True) -> Tensor:
    """One query's weights over the sequence ``(N+1,)`` (or ``(N,)``) -> the patch part as the image grid
    ``(rows, cols)``; the [CLS] key's weight is dropped (read it from ``row[0]``)."""
    patch_part = row[1:] if has_cls else row
    return patch_part.reshape(grid)  # (rows, cols)


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
