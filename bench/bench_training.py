"""Benchmark: how long the "Train it yourself" defaults (core.training.QUICK_START, seed 0) take to reach 99%
held-out exact match on this machine, checked every 50 steps as the page does.

    python -m bench.bench_training               # torch's default thread count (what the app uses)
    python -m bench.bench_training --threads 1

Prints the step and training seconds at which the held-out exact match (256 examples, checked by the Trainer)
first reached 99%, the total for all steps, a final check on 1000 fresh held-out examples, and the load average
(the machine is shared: a busy CPU slows every step).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from core.tasks import get_task
from core.training import QUICK_START, Progress, Trainer, build_model, evaluate, model_config

TARGET = 0.99


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task(QUICK_START.task)
    cfg = dataclasses.replace(QUICK_START.train, seed=args.seed)
    model = build_model(model_config(task, QUICK_START.spec), seed=args.seed)
    reached: list[tuple[int, float]] = []

    def watch(p: Progress) -> None:
        if p.held_out is not None and p.held_out.exact_match >= TARGET and not reached:
            reached.append((p.step, p.elapsed_s))

    load_before = os.getloadavg()[0]
    wall = time.perf_counter()
    history = Trainer(model, task, cfg).run(watch)
    wall = time.perf_counter() - wall
    final = evaluate(model, task, n=1000, seed=4242)
    print(f"task {task.name}, {QUICK_START.spec}, steps {cfg.steps}, lr {cfg.lr}, threads {torch.get_num_threads()}")
    if reached:
        step, seconds = reached[0]
        print(f"held-out exact match >= {TARGET:.0%} first at step {step}, after {seconds:.1f} s of training")
    else:
        print(f"held-out exact match never reached {TARGET:.0%} (last {history.eval_exact_match[-1]:.3f})")
    print(f"all {cfg.steps} steps: {history.elapsed_s:.1f} s training ({wall:.1f} s wall), "
          f"{1000 * history.elapsed_s / cfg.steps:.1f} ms/step")  # fmt: skip
    print(f"final held-out: exact match {final.exact_match:.4f}, token accuracy {final.token_accuracy:.4f} (n=1000)")
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
