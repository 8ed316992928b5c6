"""FlashAttention's forward pass as one fused Triton kernel: the tile loop of ``core.tiled``, with every tile kept
on chip.

    O = softmax(Q Kᵀ · scale, masked) V        lse_i = log Σ_j e^(s_ij)   (natural log, over visible keys j)

One program of the kernel owns one block of ``BLOCK_M`` query rows of one (batch, head). It loads its Q block once,
then walks the key tiles, folding each into the running ``m``, ``l`` and ``acc`` of lesson 18 (the same names and
the same three updates as :func:`core.tiled.online_softmax_step`), and writes O = acc / l once. Scores, weights and
the running statistics live in registers and shared memory only: nothing of size Lq × Lk ever reaches global memory.

The attention map is never stored, but it can be rebuilt row by row: the kernel can also write
``lse = m + log l`` per row, and then P_ij = e^(s_ij - lse_i) (:func:`attention_weights_from_lse`).

Masks follow ``core.masks``: causal means key j is visible to query i when j <= i + Lk - Lq (the queries are the
last Lq positions). With causal and Lq > Lk, the first Lq - Lk queries see no key at all: their output is 0 and
their lse is -inf, never NaN (the running max stays -inf, and exponents are then taken relative to 0, as in
``core.tiled``).

Triton is optional and imported on first use, so this module imports without it (the app shows the kernel's source
on CPU machines); calls then raise :class:`KernelUnavailable`. Triton decides once per process, when it is first
imported, whether kernels are compiled for the GPU or run by its interpreter (``TRITON_INTERPRET=1``), which executes
the same kernel body with numpy: slow, for tests and teaching, but on CPU tensors. torch imports Triton early (its
``torch._dynamo`` does), so a process without a GPU calls :func:`interpret_without_gpu` first thing (the app's
process setup and the tests' conftest do). Forward only: the output carries no autograd graph.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import threading
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import Tensor

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_HEAD_DIM = 128
INTERPRET_ENV = "TRITON_INTERPRET"
tl: ModuleType | None = None  # triton.language once imported: the kernel body's globals read it at launch


class KernelUnavailable(RuntimeError):
    """The kernel cannot run here (Triton is not installed)."""


def _flash_forward(
    Q, K, V, Out, LSE,  # pointers: q, out (B, H, Lq, d); k, v (B, H, Lk, d); lse (B, H, Lq) float32, contiguous
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_ob, stride_oh, stride_on, stride_od,
    heads, lq, lk, d, scale,
    CAUSAL: tl.constexpr, STORE_LSE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D_PAD: tl.constexpr,
    DOT_DTYPE: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """One program: query rows [q_block·BLOCK_M, (q_block + 1)·BLOCK_M) of batch b, head h, over every key tile."""
    q_block = tl.program_id(0)
    b = tl.program_id(1) // heads
    h = tl.program_id(1) % heads
    rows = q_block * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,) query positions i
    cols0 = tl.arange(0, BLOCK_N)  # (BLOCK_N,) key positions within a tile
    dims = tl.arange(0, D_PAD)  # (D_PAD,) head width, padded to a power of two >= 16 (tl.dot's minimum)
    row_ok = rows < lq  # the last block may run past Lq
    dim_ok = dims < d
    # (BLOCK_M, D_PAD): the block's queries, read once and kept on chip
    q = tl.load(Q + b * stride_qb + h * stride_qh + rows[:, None] * stride_qn + dims[None, :] * stride_qd,
                mask=row_ok[:, None] & dim_ok[None, :], other=0.0).to(DOT_DTYPE)

    m = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running max of the scores; lesson 18: start m = -inf
    l = tl.zeros([BLOCK_M], tl.float32)  # noqa: E741  running sum of e^(s - m); start ℓ = 0
    acc = tl.zeros([BLOCK_M, D_PAD], tl.float32)  # running sum of e^(s - m) v; start a = 0

    offset = lk - lq  # query i sits at position i + offset
    k_stop = lk
    if CAUSAL:  # key tiles past the block's last visible key lie in the future of every row: never loaded
        k_stop = tl.minimum(lk, (q_block + 1) * BLOCK_M + offset)
    for k_start in range(0, k_stop, BLOCK_N):
        cols = k_start + cols0  # (BLOCK_N,) key positions j
        col_ok = cols < lk  # the last tile may run past Lk
        # (D_PAD, BLOCK_N): the tile's Kᵀ
        k_t = tl.load(K + b * stride_kb + h * stride_kh + cols[None, :] * stride_kn + dims[:, None] * stride_kd,
                      mask=dim_ok[:, None] & col_ok[None, :], other=0.0).to(DOT_DTYPE)
        s = tl.dot(q, k_t, input_precision=DOT_PRECISION) * scale  # (BLOCK_M, BLOCK_N) scores s = q·k · scale
        visible = col_ok[None, :]  # (1, BLOCK_N); rows past Lq are computed but never stored
        if CAUSAL:
            visible = visible & (cols[None, :] <= rows[:, None] + offset)
        s = tl.where(visible, s, float("-inf"))  # lesson 18, masks inside tiles: a hidden score is -inf

        m_new = tl.maximum(m, tl.max(s, 1))  # lesson 18: m' = max(m, max_j s_j), the new running max
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)  # no key seen yet: e^(-inf - 0) = 0, not NaN
        p = tl.exp(s - m_ref[:, None])  # (BLOCK_M, BLOCK_N) this tile's terms e^(s_j - m')
        rescale = tl.exp(m - m_ref)  # e^(m - m') <= 1: old terms were taken relative to a smaller max
        l = rescale * l + tl.sum(p, 1)  # noqa: E741  lesson 18: ℓ' = e^(m - m') ℓ + Σ_j e^(s_j - m')
        v = tl.load(V + b * stride_vb + h * stride_vh + cols[:, None] * stride_vn + dims[None, :] * stride_vd,
                    mask=col_ok[:, None] & dim_ok[None, :], other=0.0).to(DOT_DTYPE)  # (BLOCK_N, D_PAD)
        # lesson 18: a' = e^(m - m') a + Σ_j e^(s_j - m') v_j, the rescaled accumulator plus this tile's values
        acc = rescale[:, None] * acc + tl.dot(p.to(DOT_DTYPE), v, input_precision=DOT_PRECISION)
        m = m_new

    out = acc / tl.where(l > 0, l, 1.0)[:, None]  # lesson 18: output = a / ℓ, once, after the last tile; ℓ = 0 → 0
    tl.store(Out + b * stride_ob + h * stride_oh + rows[:, None] * stride_on + dims[None, :] * stride_od,
             out.to(Out.dtype.element_ty), mask=row_ok[:, None] & dim_ok[None, :])
    if STORE_LSE:  # log Σ_j e^(s_j) = m + log ℓ: enough to rebuild any row of P later
        lse = tl.where(l > 0, m + tl.log(tl.where(l > 0, l, 1.0)), float("-inf"))  # -inf: the row saw no key
        tl.store(LSE + tl.program_id(1) * lq + rows, lse, mask=row_ok)


def interpret_without_gpu() -> bool:
    """Before Triton's first import: on a machine without a CUDA GPU, choose its interpreter for this process.

    Sets ``TRITON_INTERPRET=1`` unless the variable is already set or Triton is already imported (then it is too
    late: the mode is fixed). Returns whether the process will interpret."""
    if "triton" not in sys.modules and not torch.cuda.is_available():
        os.environ.setdefault(INTERPRET_ENV, "1")
    return os.environ.get(INTERPRET_ENV, "0") == "1"


@functools.cache
def _triton() -> ModuleType | None:
    """Import Triton once (None when it is not installed)."""
    global tl
    interpret_without_gpu()
    try:
        import triton
        import triton.language as language
    except ImportError:
        return None
    tl = language
    return triton


def triton_available() -> bool:
    """Whether Triton is installed (importing it if needed)."""
    return _triton() is not None


def interpreted() -> bool:
    """Whether this process's Triton runs kernels in its interpreter (its library functions were built that way)."""
    triton = _triton()
    if triton is None:
        raise KernelUnavailable(NOT_INSTALLED)
    from triton.runtime.jit import JITFunction

    return not isinstance(triton.language.sum, JITFunction)  # tl.sum is a @triton.jit function of Triton's own


NOT_INSTALLED = "Triton is not installed: `pip install triton` (CUDA builds of torch bring it)"
_build_lock = threading.Lock()


@functools.cache
def _kernel():
    """The kernel body wrapped by ``triton.jit``, in the mode (compiled or interpreted) of this process's Triton.

    ``triton.jit`` reads ``TRITON_INTERPRET`` when it decorates, so the variable is set to match for that moment."""
    triton, interpret = _triton(), interpreted()
    with _build_lock:
        before = os.environ.get(INTERPRET_ENV)
        os.environ[INTERPRET_ENV] = "1" if interpret else "0"
        try:
            return triton.jit(_flash_forward)
        finally:
            if before is None:
                del os.environ[INTERPRET_ENV]
            else:
                os.environ[INTERPRET_ENV] = before


def check_runnable(device: torch.device) -> None:
    """Raise :class:`KernelUnavailable` with the reason when the kernel cannot run on ``device`` in this process."""
    if _triton() is None:
        raise KernelUnavailable(NOT_INSTALLED)
    if device.type != "cuda" and not interpreted():
        raise KernelUnavailable(f"Triton runs compiled in this process, which needs CUDA tensors (got {device.type});"
                                f" for CPU tensors set {INTERPRET_ENV}=1 before Triton is first imported")


@dataclass(frozen=True)
class LaunchConfig:
    """Tile sizes and GPU scheduling of one launch. ``block_m × block_n`` is one score tile."""

    block_m: int
    block_n: int
    num_warps: int = 4
    num_stages: int = 2


def launch_config(d_pad: int, dtype: torch.dtype, interpret: bool) -> LaunchConfig:
    """Default tiles: in the interpreter 32 × 32 (fewer, larger numpy ops); on a GPU sized so Q, K and V tiles fit
    in shared memory (≤ ~100 KB with pipelining). Not tuned: no GPU timings have been taken for these choices."""
    if interpret:
        return LaunchConfig(32, 32)
    if dtype == torch.float32:
        return LaunchConfig(64, 32 if d_pad <= 64 else 16, num_warps=4, num_stages=2)
    if d_pad <= 64:
        return LaunchConfig(128, 64, num_warps=4, num_stages=3)
    return LaunchConfig(64, 64, num_warps=4, num_stages=2)


def _dot_dtype(dtype: torch.dtype, interpret: bool) -> object:
    """The dtype the tiles are multiplied in: the input's (tensor cores take half precision as it is); float32 for
    bfloat16 in the interpreter, which computes with numpy, and numpy has no bfloat16."""
    if interpret and dtype == torch.bfloat16:
        return tl.float32
    return {torch.float32: tl.float32, torch.float16: tl.float16, torch.bfloat16: tl.bfloat16}[dtype]


def _check_inputs(q: Tensor, k: Tensor, v: Tensor) -> None:
    """q (B, H, Lq, d), k and v (B, H, Lk, d), one dtype of DTYPES, one device, d <= 128."""
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4 or q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(f"flash_attention takes q (B, H, Lq, d), k and v (B, H, Lk, d); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    if not q.dtype == k.dtype == v.dtype or q.dtype not in DTYPES:
        raise ValueError(f"q, k, v must share one dtype of {DTYPES}; got {q.dtype}, {k.dtype}, {v.dtype}")
    if not q.device == k.device == v.device:
        raise ValueError(f"q, k, v must be on one device; got {q.device}, {k.device}, {v.device}")
    if not 1 <= q.shape[3] <= MAX_HEAD_DIM:
        raise ValueError(f"head width d must be in 1..{MAX_HEAD_DIM}; got {q.shape[3]}")
    if max(q.numel(), k.numel()) >= 2**31:  # the kernel's offsets are 32-bit integers
        raise ValueError(f"tensors of 2^31 elements or more are not supported; got q {tuple(q.shape)}, k {tuple(k.shape)}")


def flash_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, return_lse: bool = False, *,
    scale: float | None = None, block_m: int | None = None, block_n: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(Q Kᵀ · scale) V in one fused Triton kernel (forward only).

    q ``(B, H, Lq, d)``, k and v ``(B, H, Lk, d)``, float32 / float16 / bfloat16, d <= 128 (16, 32, 64, 128 run
    without padding) -> output ``(B, H, Lq, d)`` in q's dtype, and with ``return_lse`` also
    ``lse (B, H, Lq)`` float32, lse_i = log Σ_j e^(s_ij) over the keys row i sees (-inf for a row that sees none).
    Lq and Lk need not be multiples of the blocks, nor equal (causal: query i sees keys j <= i + Lk - Lq).
    Scores, softmax and the accumulator are float32 whatever the input dtype. ``scale`` defaults to 1/√d;
    ``block_m``/``block_n`` (powers of two >= 16) override :func:`launch_config`'s tiles.
    """
    _check_inputs(q, k, v)
    batch, heads, lq, d = q.shape
    lk = k.shape[2]
    out = torch.empty_like(q, memory_format=torch.contiguous_format)  # (B, H, Lq, d)
    # (B, H, Lq) when asked for; else one unused float (a real pointer: CUDA launches check every pointer argument)
    lse = torch.empty((batch, heads, lq) if return_lse else (1,), dtype=torch.float32, device=q.device)
    check_runnable(q.device)
    triton, kernel = _triton(), _kernel()
    d_pad = max(16, triton.next_power_of_2(d))
    config = launch_config(d_pad, q.dtype, interpreted())
    block_m, block_n = block_m or config.block_m, block_n or config.block_n
    if lq == 0:
        return (out, lse) if return_lse else out
    for block in (block_m, block_n):
        if block < 16 or block & (block - 1):
            raise ValueError(f"blocks must be powers of two >= 16 (tl.dot's minimum); got {block_m}, {block_n}")
    grid = (triton.cdiv(lq, block_m), batch * heads)  # one program per (query block, batch·head)
    kernel[grid](
        q, k, v, out, lse, *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        heads, lq, lk, d, 1.0 / math.sqrt(d) if scale is None else float(scale),
        CAUSAL=causal, STORE_LSE=return_lse, BLOCK_M=block_m, BLOCK_N=block_n, D_PAD=d_pad,
        DOT_DTYPE=_dot_dtype(q.dtype, interpreted()),
        DOT_PRECISION="ieee",  # float32 inputs: exact float32 products, not TF32 (half inputs ignore it)
        num_warps=config.num_warps, num_stages=config.num_stages,
    )
    return (out, lse) if return_lse else out


def attention_weights_from_lse(
    q: Tensor, k: Tensor, lse: Tensor, rows: Tensor | list[int] | None = None, *, causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Rebuild rows of the attention map the kernel never stored: P_ij = e^(s_ij - lse_i), s_ij = q_i·k_j · scale.

    q ``(B, H, Lq, d)``, k ``(B, H, Lk, d)``, lse ``(B, H, Lq)`` from ``flash_attention(..., return_lse=True)``;
    ``rows`` picks query rows (default all) -> ``(B, H, len(rows), Lk)`` float32. Each row sums to 1, or is all 0
    for a row that sees no key. Costs one row of scores per requested row: O(len(rows) · Lk · d).
    """
    lq, lk = q.shape[2], k.shape[2]
    index = torch.arange(lq, device=q.device) if rows is None else torch.as_tensor(rows, device=q.device).long()
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q[:, :, index].float() @ k.float().transpose(-1, -2)) * scale  # (B, H, r, Lk)
    row_lse = lse[:, :, index, None]  # (B, H, r, 1)
    visible = torch.isfinite(row_lse).expand_as(scores)  # a row with lse = -inf sees nothing
    if causal:
        visible = visible & (torch.arange(lk, device=q.device)[None, :] <= index[:, None] + (lk - lq))  # (r, Lk)
    return torch.where(visible, torch.exp(scores - torch.where(torch.isfinite(row_lse), row_lse, 0.0)), 0.0)


@functools.cache
def kernel_source() -> str:
    """The kernel's source text (read from this file once per process: works without Triton installed)."""
    return inspect.getsource(_flash_forward)
