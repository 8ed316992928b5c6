"""Benchmark: how long exports take (one heatmap PNG; a ZIP of 4 layers × 8 heads). Prints medians.

    python -m bench.bench_export
"""

from __future__ import annotations

import statistics
import time

import torch

from core.attention import attention
from figures.export import AttentionExport, attention_zip, figure_image, heatmap_image
from figures.heatmap import heatmap


def _median_seconds(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    tokens = tuple(f"t{i}" for i in range(12))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(4, 8, len(tokens), 16, generator=g) for _ in range(3))  # (layers, heads, T, d)
    weights = attention(q, k, v).weights.numpy()
    export = AttentionExport("bench", "random", weights, tokens, tokens, {"seed": 0})
    fig = heatmap(weights[0, 0], tokens, tokens, "layer 0 head 0")
    rows = [
        ("heatmap PNG from the Plotly figure (12×12)", *_median_seconds(lambda: figure_image(fig, "png"), 15), 0.5),
        ("heatmap SVG from the Plotly figure (12×12)", *_median_seconds(lambda: figure_image(fig, "svg"), 15), 0.5),
        ("heatmap PNG from arrays (12×12)", *_median_seconds(
            lambda: heatmap_image(weights[0, 0], tokens, tokens, "t"), 15), 0.5),
        ("ZIP of 4 layers × 8 heads (32 PNG + CSV/JSON/NPZ)", *_median_seconds(lambda: attention_zip(export), 3), 10.0),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'export':52} | median s | max s | budget s |")
    print(f"|{'-' * 54}|---------:|------:|---------:|")
    for name, median, worst, budget in rows:
        print(f"| {name:52} | {median:8.3f} | {worst:5.3f} | {budget:8.1f} |")


if __name__ == "__main__":
    main()
