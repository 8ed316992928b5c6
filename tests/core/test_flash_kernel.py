"""The fused Triton kernel (core/kernels/flash_attention.py) against SDPA, the Python tile loop and float64.

Without a GPU the kernel runs in Triton's interpreter on CPU tensors (tests/conftest.py chooses the interpreter before
anything imports Triton); with one, the same sweep runs compiled on CUDA tensors (marked ``cuda``). Error rule of
tests/core/test_tiled.py (flash-attention's): err(kernel vs float64) <= 2 · err(plain attention in the same dtype vs
float64) + eps. A fully masked row arises from causal attention with Lq > Lk (the first Lq - Lk queries sit before
every key) or from Lk = 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.attention import naive_attention
from core.kernels import flash_attention as fa
from core.masks import causal_mask
from core.tiled import tiled_attention_reference
from tests.core.reference import float64_attention

ROOT = Path(__file__).resolve().parents[2]
EPS = {torch.float32: 1e-6, torch.float16: torch.finfo(torch.float16).eps, torch.bfloat16: torch.finfo(torch.bfloat16).eps}

pytestmark = pytest.mark.skipif(not fa.triton_available(), reason="Triton is not installed (requirements-dev.txt has it)")


def interpreter_ready() -> bool:
    return fa.triton_available() and fa.interpreted()


# Interpreter runs on CPU tensors; compiled runs on CUDA tensors. A process has one mode (fixed at Triton's import).
CPU = pytest.param("cpu", marks=pytest.mark.skipif(
    not interpreter_ready(), reason="this process runs Triton compiled (a GPU is present): the cuda sweep covers it"))
CUDA = pytest.param("cuda", marks=pytest.mark.cuda)
DEVICES = [CPU, CUDA]


@pytest.fixture(autouse=True, scope="module")
def _one_cpu_thread():
    """The interpreter runs numpy ops on small tiles: one thread avoids two threads spin-waiting on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_qkv(lq: int, lk: int, d: int = 16, *, batch: int = 1, heads: int = 2, dtype=torch.float32, device="cpu",
             seed: int = 0):
    """N(0, 1) q (B, H, Lq, d), k and v (B, H, Lk, d), drawn in float32 on CPU then cast and moved."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, lq, d, generator=gen)
    k = torch.randn(batch, heads, lk, d, generator=gen)
    v = torch.randn(batch, heads, lk, d, generator=gen)
    return (t.to(device=device, dtype=dtype) for t in (q, k, v))


def assert_within_error_rule(out, q, k, v, causal: bool) -> None:
    """No NaN; close to plain attention in the same dtype; error vs float64 <= 2 · plain's own error + eps."""
    mask = causal_mask(q.shape[2], k.shape[2], device=q.device) if causal else None
    plain = naive_attention(q, k, v, mask)  # (B, H, Lq, d) in q's dtype: the rounding any plain path pays
    exact = float64_attention(q, k, v, mask)[1]
    assert not torch.isnan(out).any()
    assert out.dtype == q.dtype and out.shape == q.shape
    torch.testing.assert_close(out, plain, atol=5 * EPS[q.dtype] if q.dtype != torch.float32 else None,
                               rtol=5 * EPS[q.dtype] if q.dtype != torch.float32 else None)
    err = (out.double() - exact).abs().max().item()
    err_plain = (plain.double() - exact).abs().max().item()
    assert err <= 2 * err_plain + EPS[q.dtype], f"kernel error {err:.3g} vs plain {q.dtype} error {err_plain:.3g}"


def assert_equals_sdpa(out, q, k, v, causal: bool) -> None:
    """Equal to torch's fused attention (rows that see at least one key; SDPA gives NaN for the others)."""
    mask = causal_mask(q.shape[2], k.shape[2], device=q.device) if causal else None
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    seen = slice(None) if mask is None else mask.any(-1)  # (Lq,) rows with a visible key
    tol = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[q.dtype]
    torch.testing.assert_close(out[:, :, seen], sdpa[:, :, seen], atol=tol, rtol=tol)


# --- the sweep: awkward lengths (no block divides them), Lq != Lk, causal, blocks 16 and 32 ------------------------
SIZES = [(1, 1), (17, 17), (45, 45), (33, 70), (70, 33)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize(("lq", "lk"), SIZES, ids=[f"{a}x{b}" for a, b in SIZES])
def test_matches_references_at_awkward_sizes(lq, lk, causal, device):
    q, k, v = make_qkv(lq, lk, device=device)
    out = fa.flash_attention(q, k, v, causal=causal, block_m=16, block_n=32)
    assert_within_error_rule(out, q, k, v, causal)
    assert_equals_sdpa(out, q, k, v, causal)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("block_m", "block_n"), [(16, 16), (64, 16), (16, 64), (64, 64)])
def test_block_sizes_from_many_tiles_to_one(block_m, block_n, device):
    q, k, v = make_qkv(50, 64, device=device, seed=1)  # 64 x 64: one tile holds every key of a query block
    out = fa.flash_attention(q, k, v, causal=True, block_m=block_m, block_n=block_n)
    assert_within_error_rule(out, q, k, v, causal=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_dtypes(dtype, causal, device):
    q, k, v = make_qkv(37, 45, d=32, dtype=dtype, device=device, seed=2)
    out = fa.flash_attention(q, k, v, causal=causal)
    assert_within_error_rule(out, q, k, v, causal)
    assert_equals_sdpa(out, q, k, v, causal)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("d", [16, 32, 64, 128, 8, 40])
def test_head_widths(d, device):
    # 16..128: the kernel's widths; 8 and 40 are padded to 16 and 64 inside the kernel (masked loads)
    q, k, v = make_qkv(20, 23, d=d, device=device, seed=3)
    out = fa.flash_attention(q, k, v, causal=True)
    assert_within_error_rule(out, q, k, v, causal=True)


@pytest.mark.parametrize("device", DEVICES)
def test_batches_and_heads_and_strided_inputs(device):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 19, 4, 3 * 16, generator=gen).to(device)  # (B, L, H, 3·d): one projection, heads interleaved
    q, k, v = (t.transpose(1, 2) for t in x.split(16, dim=-1))  # (B, H, L, d) views, not contiguous
    assert not q.is_contiguous()
    out = fa.flash_attention(q, k, v, causal=True, block_m=16, block_n=16)
    assert_within_error_rule(out, q, k, v, causal=True)


@pytest.mark.parametrize("device", DEVICES)
def test_fully_masked_rows_are_zero_never_nan(device):
    # causal with Lq = 20 > Lk = 5: the first 15 queries sit before every key and see nothing
    q, k, v = make_qkv(20, 5, device=device, seed=5)
    out, lse = fa.flash_attention(q, k, v, causal=True, return_lse=True, block_m=16, block_n=16)
    assert not torch.isnan(out).any() and not torch.isnan(lse).any()
    assert torch.equal(out[:, :, :15], torch.zeros_like(out[:, :, :15]))
    assert torch.isneginf(lse[:, :, :15]).all() and torch.isfinite(lse[:, :, 15:]).all()
    assert_within_error_rule(out, q, k, v, causal=True)


@pytest.mark.parametrize("device", DEVICES)
def test_no_keys_at_all_gives_zeros(device):
    q, k, v = make_qkv(17, 0, device=device, seed=6)  # k, v (1, 2, 0, 16)
    out, lse = fa.flash_attention(q, k, v, return_lse=True)
    assert torch.equal(out, torch.zeros_like(out)) and torch.isneginf(lse).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_lse_rebuilds_the_attention_rows(causal, device):
    q, k, v = make_qkv(40, 29, device=device, seed=7)  # causal: the first 11 rows see no key
    out, lse = fa.flash_attention(q, k, v, causal=causal, return_lse=True, block_m=16, block_n=16)
    mask = causal_mask(40, 29, device=device) if causal else None
    weights64 = float64_attention(q, k, v, mask)[0]  # (B, H, Lq, Lk)
    scores64 = (q.double() @ k.double().transpose(-1, -2)) / 4.0  # d = 16: scale 1/4
    if mask is not None:
        scores64 = scores64.masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(lse.double(), torch.logsumexp(scores64, -1), atol=1e-5, rtol=1e-5)
    rows = [0, 5, 11, 12, 39]
    rebuilt = fa.attention_weights_from_lse(q, k, lse, rows, causal=causal)  # (B, H, 5, Lk)
    torch.testing.assert_close(rebuilt.double(), weights64[:, :, rows], atol=1e-5, rtol=1e-5)
    every = fa.attention_weights_from_lse(q, k, lse, causal=causal)  # (B, H, Lq, Lk)
    torch.testing.assert_close((every.double() @ v.double()).float(), out, atol=1e-5, rtol=1e-5)  # P V = O


@pytest.mark.parametrize("device", DEVICES)
def test_matches_the_python_tile_loop(device):
    q, k, v = make_qkv(30, 30, device=device, seed=8)
    loop = tiled_attention_reference(q, k, v, causal=True, block_q=16, block_k=16)
    out = fa.flash_attention(q, k, v, causal=True, block_m=16, block_n=16)
    torch.testing.assert_close(out, loop)  # fp32 tolerances: same algorithm, same tiles


# --- refusals, and the module without Triton -------------------------------------------------------------------


@pytest.mark.parametrize(("shapes", "dtype", "match"), [
    (((1, 2, 5, 16), (1, 2, 6, 16), (1, 2, 7, 16)), torch.float32, "takes q"),
    (((1, 2, 5, 16), (1, 3, 6, 16), (1, 3, 6, 16)), torch.float32, "takes q"),
    (((2, 5, 16), (2, 6, 16), (2, 6, 16)), torch.float32, "takes q"),
    (((1, 1, 5, 256), (1, 1, 5, 256), (1, 1, 5, 256)), torch.float32, "head width"),
    (((1, 1, 5, 16), (1, 1, 5, 16), (1, 1, 5, 16)), torch.float64, "dtype"),
])
def test_refuses_what_it_cannot_run(shapes, dtype, match):
    q, k, v = (torch.zeros(s, dtype=dtype) for s in shapes)
    with pytest.raises(ValueError, match=match):
        fa.flash_attention(q, k, v)


@pytest.mark.skipif(not interpreter_ready(), reason="needs Triton's interpreter (this process runs it compiled)")
@pytest.mark.parametrize("block", [8, 24])
def test_refuses_blocks_tl_dot_cannot_take(block):
    q, k, v = make_qkv(5, 5)
    with pytest.raises(ValueError, match="powers of two"):
        fa.flash_attention(q, k, v, block_m=block)


NO_TRITON = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "triton" or name.startswith("triton."):
            raise ImportError("no triton here")
sys.meta_path.insert(0, Block())
import torch
from core.kernels import flash_attention as fa
assert not fa.triton_available()
assert "m_new = tl.maximum(m, tl.max(s, 1))" in fa.kernel_source()
try:
    fa.flash_attention(torch.zeros(1, 1, 4, 16), torch.zeros(1, 1, 4, 16), torch.zeros(1, 1, 4, 16))
except fa.KernelUnavailable as exc:
    print("unavailable:", exc)
"""


def test_module_imports_and_explains_without_triton():
    done = subprocess.run([sys.executable, "-c", NO_TRITON], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "unavailable: Triton is not installed" in done.stdout


# --- the compiled path, built for an H100 (sm_90) without a GPU: Triton's own ptxas turns the kernel into a cubin ---
COMPILE = """
import os
os.environ["TRITON_INTERPRET"] = "0"
import torch, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from core.kernels import flash_attention as fa
assert not fa.interpreted()
kernel = fa._kernel()
for dtype, d, causal in ((torch.bfloat16, 64, True),):  # the issue's target dtype and width, causal branch built
    config = fa.launch_config(d, dtype, False)
    consts = dict(CAUSAL=causal, STORE_LSE=True, BLOCK_M=config.block_m, BLOCK_N=config.block_n, D_PAD=d,
                  DOT_DTYPE=fa._dot_dtype(dtype, False), DOT_PRECISION="ieee")
    pointer = "*bf16"
    signature = {name: "i32" for name in kernel.arg_names} | dict.fromkeys(("Q", "K", "V", "Out"), pointer)
    signature |= {"LSE": "*fp32", "scale": "fp32"} | dict.fromkeys(consts, "constexpr")
    source = ASTSource(kernel, signature, {(kernel.arg_names.index(n),): v for n, v in consts.items()})
    compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=config.num_warps, num_stages=config.num_stages))
    print(dtype, d, causal, "cubin bytes", len(compiled.asm["cubin"]), "shared", compiled.metadata.shared)
"""


def _ptxas() -> str | None:
    import triton

    bundled = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    return str(bundled) if bundled.exists() else shutil.which("ptxas")


@pytest.mark.skipif(not fa.triton_available() or _ptxas() is None, reason="no ptxas (Triton's NVIDIA backend)")
def test_compiled_kernel_builds_for_sm90_without_a_gpu():
    """The interpreter does not check what the GPU compiler checks (types across branches, tl.dot shapes, shared
    memory): build the real kernel for an H100 in a process that imports Triton in compiled mode."""
    env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_DEFAULT_FP_FUSION": "1"}
    done = subprocess.run([sys.executable, "-c", COMPILE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if "cubin bytes" in line]
    assert len(lines) == 1 and all(int(line.split()[-3]) > 0 for line in lines), done.stdout
    assert all(int(line.split()[-1]) <= 100 * 1024 for line in lines)  # fits consumer GPUs' ~100 KB shared memory
