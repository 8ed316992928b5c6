"""Statistics of softmax distributions: entropy, saturation, the softmax Jacobian, and how heads differ.

Why divide by √d_k: for q, k with i.i.d. unit-variance entries, q·k = Σᵢ qᵢkᵢ is a sum of d_k unit-variance terms,
so Var(q·k) = d_k and std(q·k) = √d_k. Unscaled, the scores spread further as d_k grows, softmax puts almost all
weight on one key (saturates), and its Jacobian  ∂p/∂s = diag(p) − p pᵀ  goes to zero: almost no gradient flows.
Dividing by √d_k keeps std(score) ≈ 1 at every width. :func:`scaling_sweep` measures all of this on seeded draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from core.attention import attention


def softmax_entropy(p: Tensor, dim: int = -1) -> Tensor:
    """H(p) = −Σ pᵢ log pᵢ in nats (0 log 0 = 0): ``(..., n)`` -> ``(...)``. Uniform over n keys gives log n."""
    return -torch.special.xlogy(p, p).sum(dim)


def softmax_jacobian(p: Tensor) -> Tensor:
    """∂softmax(s)/∂s = diag(p) − p pᵀ for p = softmax(s): ``(..., n)`` -> ``(..., n, n)``, symmetric, rows sum to 0."""
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)  # (..., n, n)


def softmax_jacobian_norm(p: Tensor) -> Tensor:
    """Frobenius norm of :func:`softmax_jacobian`, without building it: ``(..., n)`` -> ``(...)``.

    ‖diag(p) − ppᵀ‖²_F = Σᵢ pᵢ² − 2 Σᵢ pᵢ³ + (Σᵢ pᵢ²)²;  0 for a one-hot p (saturated: no gradient).
    """
    s2 = (p * p).sum(-1)
    s3 = (p * p * p).sum(-1)
    return (s2 - 2 * s3 + s2 * s2).clamp_min(0).sqrt()


def d_k_grid(max_d_k: int) -> list[int]:
    """Widths to sweep: powers of two 1, 2, 4, … up to ``max_d_k`` (and ``max_d_k`` itself when it is not one)."""
    grid = [2**i for i in range(int(math.log2(max(max_d_k, 1))) + 1)]
    return grid if grid[-1] == max_d_k else grid + [max_d_k]


@dataclass(frozen=True)
class ScalingSweep:
    """Measured over ``n_samples`` seeded (query, keys) draws at each width. Arrays are ``(D,)`` over ``d_ks``.

    dot_std:          std of the raw dot products q·k (theory: √d_k)
    scaled_std:       std of q·k / √d_k (theory: 1)
    max_weight_*:     mean over samples of the largest softmax weight (1/n_keys = uniform, 1 = one-hot)
    entropy_*:        mean softmax entropy in nats (log n_keys = uniform, 0 = one-hot)
    jacobian_norm_*:  mean ‖diag(p) − ppᵀ‖_F, how much gradient reaches the scores
    example_*:        ``(D, n_keys)`` the softmax weights of one typical sample at each width (the one with the
                      median largest unscaled weight)
    """

    d_ks: tuple[int, ...]
    n_keys: int
    n_samples: int
    dot_std: tuple[float, ...]
    scaled_std: tuple[float, ...]
    max_weight_scaled: tuple[float, ...]
    max_weight_unscaled: tuple[float, ...]
    entropy_scaled: tuple[float, ...]
    entropy_unscaled: tuple[float, ...]
    jacobian_norm_scaled: tuple[float, ...]
    jacobian_norm_unscaled: tuple[float, ...]
    example_scaled: tuple[tuple[float, ...], ...]
    example_unscaled: tuple[tuple[float, ...], ...]

    @property
    def theory_std(self) -> tuple[float, ...]:
        """√d_k, the predicted std of unscaled dot products."""
        return tuple(math.sqrt(d) for d in self.d_ks)


def scaling_sweep(
    d_ks: Sequence[int], n_keys: int, n_samples: int, seed: int, device: torch.device | str = "cpu"
) -> ScalingSweep:
    """For each d_k: q ``(S, 1, d_k)``, k ``(S, n_keys, d_k)`` ~ N(0, 1) (the first d_k coordinates of one seeded
    draw of width max(d_ks)); run core attention with scoring="dot" (unscaled) and "scaled_dot" (÷√d_k) and
    summarise the scores and weights of the two traces."""
    g = torch.Generator().manual_seed(seed)
    stats: dict[str, list] = {name: [] for name in ScalingSweep.__dataclass_fields__ if name not in
                              ("d_ks", "n_keys", "n_samples")}
    d_max = max(d_ks)
    q_all = torch.randn(n_samples, 1, d_max, generator=g).to(device)  # (S, 1, d_max)
    k_all = torch.randn(n_samples, n_keys, d_max, generator=g).to(device)  # (S, n, d_max)
    v = torch.zeros(n_samples, n_keys, 1, device=device)  # values do not matter here
    for d in d_ks:
        q, k = q_all[..., :d], k_all[..., :d]  # the first d coordinates: still i.i.d. N(0, 1) draws of width d
        typical = None  # the sample shown as the example: median largest weight of the unscaled softmax
        for tag, scoring in (("unscaled", "dot"), ("scaled", "scaled_dot")):
            trace = attention(q, k, v, scoring=scoring)
            p = trace.weights[:, 0].double()  # (S, n)
            if typical is None:
                typical = int(p.max(-1).values.argsort()[n_samples // 2])
            stats[f"max_weight_{tag}"].append(p.max(-1).values.mean().item())
            stats[f"entropy_{tag}"].append(softmax_entropy(p).mean().item())
            stats[f"jacobian_norm_{tag}"].append(softmax_jacobian_norm(p).mean().item())
            stats[f"example_{tag}"].append(tuple(p[typical].cpu().tolist()))
            if tag == "unscaled":
                stats["dot_std"].append(trace.raw_scores.double().std().item())
            else:
                stats["scaled_std"].append(trace.scaled_scores.double().std().item())
    return ScalingSweep(tuple(d_ks), n_keys, n_samples, **{k: tuple(v) for k, v in stats.items()})


def predicted_sweep_peak_bytes(d_ks: Sequence[int], n_keys: int, n_samples: int) -> int:
    """Peak bytes of :func:`scaling_sweep` (float32), from its sizes, so a page can refuse it before it runs.

    The seeded draws q ``(S, 1, d_max)`` and k ``(S, n, d_max)`` dominate; the rest is about a dozen ``(S, n)``-sized
    tensors alive at once (v, the two traces' scores and weights, the float64 weights and their statistics).
    """
    s, n = n_samples, n_keys
    return 4 * s * ((1 + n) * max(d_ks) + 12 * n + 4)


def js_divergence(p: Tensor, q: Tensor, dim: int = -1) -> Tensor:
    """Jensen–Shannon divergence in nats, JS(p, q) = ½ KL(p‖m) + ½ KL(q‖m), m = (p + q)/2; in [0, log 2].

    Symmetric and finite even where one distribution is 0 (masked keys). All-zero rows (fully masked) give 0.
    """
    m = 0.5 * (p + q)
    kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum(dim)
    kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum(dim)
    return (0.5 * (kl_pm + kl_qm)).clamp_min(0)


def pairwise_head_divergence(weights: Tensor) -> Tensor:
    """How different the heads' maps are: ``weights (H, Lq, Lk)`` -> ``(H, H)``, entry (a, b) = mean over queries of
    JS(weights[a, i], weights[b, i]). 0 = the two heads attend identically; log 2 ≈ 0.693 = disjoint keys."""
    a = weights.unsqueeze(1)  # (H, 1, Lq, Lk)
    b = weights.unsqueeze(0)  # (1, H, Lq, Lk)
    return js_divergence(a, b).mean(-1)  # (H, H)
