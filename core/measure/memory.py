"""What attention costs in memory, computed from shapes alone: peak bytes and slow-memory (HBM) traffic.

Peak bytes (what must be allocated at once), naive vs tiled, for ``B`` batches, ``H`` heads, ``Lq`` queries,
``Lk`` keys, head width ``d``:

    naive ≈ c · B·H·Lq·Lk · s  +  B·H·Lq·d_v · s          (c score-sized matrices alive at once; s = bytes/element)
    tiled ≈ B·H·bq·bk · s_c  +  B·H·bq·(d + 2 d_v) · s_c  +  B·H·Lq·d_v · s   (one score tile + block buffers + output)

Naive grows like Lq·Lk, tiled like Lq. ``core.measure.memory_meter`` measures the real figure; tests hold them together.

Traffic (bytes read from / written to slow memory), following the IO analysis of the FlashAttention paper (Dao et
al. 2022): naive attention writes S = QKᵀ, reads it back for the softmax, writes P, reads P for PV; the tiled loop
reads each Q block once, each K/V tile once per query block it is not skipped for, and writes O once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.attention import score_tensors_at_peak
from core.tiled import tile_schedule

MIB = 1 << 20  # bytes in a mebibyte: the project's one MiB


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def naive_memory_terms(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, masked: bool = False, d_v: int | None = None,
) -> dict[str, int]:
    """Bytes of each kind of tensor alive at the peak of ``core.attention.naive_attention``, by name.

    The number of score-sized matrices comes from the code path itself (``core.attention.score_tensors_at_peak``).
    """
    s = _itemsize(dtype)
    d_v = d if d_v is None else d_v
    copies = score_tensors_at_peak(masked)
    terms = {
        f"{copies} score-sized matrices (B, H, Lq, Lk)": copies * batch * heads * lq * lk * s,
        "output (B, H, Lq, d_v)": batch * heads * lq * d_v * s,
    }
    if masked:
        terms["boolean mask (Lq, Lk)"] = lq * lk
    return terms


def tiled_memory_terms(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, block_q: int = 256, block_k: int = 512, d_v: int | None = None,
) -> dict[str, int]:
    """Bytes of each kind of tensor alive at the peak of ``core.tiled.tiled_attention``, by name.

    Half-precision inputs are computed in float32, so the working buffers use 4-byte elements.
    """
    s = _itemsize(dtype)
    s_compute = max(s, 4)
    d_v = d if d_v is None else d_v
    bq, bk = min(block_q, lq), min(block_k, lk)
    return {
        "score tile (B, H, bq, bk)": batch * heads * bq * bk * s_compute,
        "query block, accumulator, normalised block (B, H, bq, ·)": batch * heads * bq * (d + 2 * d_v) * s_compute,
        "running max / sum and row temporaries (B, H, bq)": 8 * batch * heads * bq * s_compute,
        "output (B, H, Lq, d_v)": batch * heads * lq * d_v * s,
    }


def predicted_naive_peak_bytes(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, masked: bool = False, d_v: int | None = None,
) -> int:
    """Predicted peak bytes of naive attention: the score-sized matrices plus the output (see module docstring)."""
    return sum(naive_memory_terms(batch, heads, lq, lk, d, dtype, masked=masked, d_v=d_v).values())


def predicted_tiled_peak_bytes(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, block_q: int = 256, block_k: int = 512, d_v: int | None = None,
) -> int:
    """Predicted peak bytes of tiled attention: one score tile, the block buffers and the output."""
    return sum(tiled_memory_terms(batch, heads, lq, lk, d, dtype, block_q=block_q, block_k=block_k, d_v=d_v).values())


@dataclass(frozen=True)
class MemoryTraffic:
    """Bytes moved between slow memory (HBM / DRAM) and the compute units, by what is moved."""

    reads: dict[str, int]
    writes: dict[str, int]

    @property
    def read_bytes(self) -> int:
        return sum(self.reads.values())

    @property
    def written_bytes(self) -> int:
        return sum(self.writes.values())

    @property
    def total_bytes(self) -> int:
        return self.read_bytes + self.written_bytes


def naive_attention_traffic(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32, *, d_v: int | None = None,
) -> MemoryTraffic:
    """Standard attention (FlashAttention paper, Algorithm 0), three passes through slow memory per head:

    1. read Q, K; write S = Q Kᵀ     2. read S; write P = softmax(S)     3. read P, V; write O = P V

    Θ(Lq·Lk) bytes: the score matrix goes out and back twice. Causal masking does not reduce it (S is full).
    """
    s, n = _itemsize(dtype), batch * heads
    d_v = d if d_v is None else d_v
    return MemoryTraffic(
        reads={"Q": n * lq * d * s, "K": n * lk * d * s, "S": n * lq * lk * s, "P": n * lq * lk * s,
               "V": n * lk * d_v * s},
        writes={"S": n * lq * lk * s, "P": n * lq * lk * s, "O": n * lq * d_v * s},
    )


def tiled_attention_traffic(
    batch: int, heads: int, lq: int, lk: int, d: int, dtype: torch.dtype = torch.float32,
    *, block_q: int = 256, block_k: int = 512, causal: bool = False, kv_heads: int | None = None,
    d_v: int | None = None,
) -> MemoryTraffic:
    """Count the loads and stores of the tile loop (``core.tiled.tile_schedule``, the order both tiled paths use).

    Per query block: load its Q rows once; for every tile not skipped by causal masking load the K and V tiles;
    store the O block once. Scores, m, l and the accumulator stay in fast memory (SRAM / cache). K and V are read
    once per key/value head (GQA query heads of a group share the tile).
    """
    s = _itemsize(dtype)
    kv_heads = heads if kv_heads is None else kv_heads
    d_v = d if d_v is None else d_v
    q_rows = o_rows = k_rows = 0
    for row in tile_schedule(lq, lk, block_q, block_k, causal=causal):
        q_rows += row[0].q_stop - row[0].q_start  # load the Q block
        k_rows += sum(t.k_stop - t.k_start for t in row if not t.causal_skip)  # load K, V tiles
        o_rows += row[0].q_stop - row[0].q_start  # store the O block
    return MemoryTraffic(
        reads={"Q": batch * heads * q_rows * d * s, "K": batch * kv_heads * k_rows * d * s,
               "V": batch * kv_heads * k_rows * d_v * s},
        writes={"O": batch * heads * o_rows * d_v * s},
    )
