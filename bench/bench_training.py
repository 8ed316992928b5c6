"""Benchmark: how long the "Train it yourself" defaults (core.train.training.QUICK_START, seed 0) take to reach 99%
held-out exact match on this machine, checked every 50 steps on 512 examples as the page does (the run stops there).

    python -m bench.bench_training               # torch's default thread count (what the app uses)
    python -m bench.bench_training --threads 1

Prints the step and training seconds at which the held-out exact match (checked by the Trainer)
first reached 99%, the time per step, a check on 1000 fresh held-out examples, and the load average (the machine
is shared: a busy CPU slows every step).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from core.train.evaluation import evaluate
from core.train.tasks import get_task
from core.train.training import QUICK_START, Trainer, build_model, model_config


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
    load_before = os.getloadavg()[0]
    wall = time.perf_counter()
    history = Trainer(model, task, cfg).run()
    wall = time.perf_counter() - wall
    final = evaluate(model, task, n=1000, seed=4242)
    steps = len(history.steps)
    print(f"task {task.name}, {QUICK_START.spec}, up to {cfg.steps} steps, lr {cfg.lr}, seed {args.seed}, "
          f"threads {torch.get_num_threads()}")  # fmt: skip
    if history.target_reached:
        step, seconds = history.target_reached
        print(f"held-out exact match >= {cfg.target:.0%} (checked every {cfg.eval_every} steps on {cfg.eval_size} "
              f"examples) at step {step}, after {seconds:.1f} s of training ({wall:.1f} s wall)")  # fmt: skip
    else:
        print(f"held-out exact match never reached {cfg.target:.0%} in {steps} steps "
              f"(last {history.eval_exact_match[-1]:.3f}); {history.elapsed_s:.1f} s")  # fmt: skip
    print(f"{1000 * history.elapsed_s / steps:.1f} ms/step (snapshots and held-out checks included)")
    print(f"then on 1000 fresh held-out examples: exact match {final.exact_match:.4f}, "
          f"token accuracy {final.token_accuracy:.4f}")  # fmt: skip
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
