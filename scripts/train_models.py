"""Reproduce every shipped model from its seed: train, measure on the held-out split, save safetensors + JSON card.

    python scripts/train_models.py                 # all models into models/ (about 10 minutes on an idle 2-core CPU)
    python scripts/train_models.py reverse dates   # only some
    python scripts/train_models.py --only vit-digits   # only the digits ViT (about 3 minutes on a busy 2-core CPU)
    python scripts/train_models.py --threads 1 --out /tmp/models
    python scripts/train_models.py --only english-bpe --only english-gpt --only english-bert   # the English models
        (needs Debian's wordnet-base: apt-get install wordnet-base; about an hour per model on one CPU thread)

Each recipe fixes the task, the architecture and the training config (seed included), so the same torch version
with the same thread count reproduces the same weights. The card records the held-out scores measured here
(HELD_OUT_N examples of the held-out split, drawn with HELD_OUT_SEED; never seen in training). The digits ViT's
card records its accuracy on the whole held-out test split of scikit-learn's digits (core.train.digits).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.models import DecoderConfig, EncoderConfig  # noqa: E402
from core.tokenizer import ByteLevelBPE  # noqa: E402
from core.train import english_training as et  # noqa: E402
from core.train.checkpoints import MODELS_DIR, downsample_curve, save_model  # noqa: E402
from core.train.digits import digit_splits  # noqa: E402
from core.train.english_corpus import load_corpus  # noqa: E402
from core.train.evaluation import evaluate  # noqa: E402
from core.train.tasks import get_task  # noqa: E402
from core.train.training import (  # noqa: E402
    ModelSpec,
    Progress,
    Recipe,
    TrainConfig,
    Trainer,
    build_model,
    model_config,
)
from core.train.vit_training import ViTRecipe, accuracy, build_vit, data_card, downsample, save_vit, train_vit  # noqa: E402
from core.vit import ViTConfig  # noqa: E402

HELD_OUT_N, HELD_OUT_SEED = 1000, 2026
ROPE = ModelSpec(n_layers=2, n_heads=4, d_model=64, d_ff=256, positional="rope")


def _cfg(steps: int, lr: float, seed: int, **kw) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=64, lr=lr, schedule="cosine", warmup=50, seed=seed, eval_every=100,
                       eval_size=256, **kw)


RECIPES: dict[str, Recipe] = {
    # learned absolute positions: one trained vector per position (the positional-encodings page plots them);
    # RoPE (relative offsets) learns reverse / sort / induction / masked faster, so those use it
    "copy": Recipe("copy", dataclasses.replace(ROPE, positional="learned"), _cfg(1400, 5e-3, seed=1)),
    "reverse": Recipe("reverse", ROPE, _cfg(900, 5e-3, seed=2)),
    "sort": Recipe("sort", ROPE, _cfg(2200, 5e-3, seed=3)),
    "induction": Recipe("induction", ROPE, _cfg(1500, 3e-3, seed=4)),
    "dates": Recipe("dates", dataclasses.replace(ROPE, d_ff=128), _cfg(500, 3e-3, seed=5)),
    "masked": Recipe("masked", ROPE, _cfg(2000, 5e-3, seed=6)),
}
METRICS = {
    "induction": "token accuracy and exact match on the repeated half, from its second letter (teacher forced)",
    "masked": "token accuracy on the hidden letters; exact match = every hidden letter of a sequence right",
}
# The digits ViT: 2×2 patches of the 8×8 digits (16 tokens + [CLS]); shifts of up to 1 pixel as augmentation.
VIT_RECIPES: dict[str, ViTRecipe] = {
    "vit-digits": ViTRecipe(
        ViTConfig(image_size=8, patch_size=2, channels=1, d_model=64, n_heads=4, n_layers=2, d_ff=128, n_classes=10),
        TrainConfig(steps=1500, batch_size=64, lr=3e-3, schedule="cosine", warmup=100, weight_decay=0.05,
                    label_smoothing=0.1, seed=7, eval_every=250),
        max_shift=1,
    ),
}
# The English models: one byte-level BPE vocabulary (4,096 tokens) learned from the WordNet corpus's training split,
# then a GPT (causal LM) and a BERT (masked LM, 80/10/10) of the same size, 64-token windows, learned positions.
# Pre-LN for both (BERT itself is post-LN; pre-LN trains stably without a long warmup on this budget).
ENGLISH_VOCAB = 4096
ENGLISH_BPE = "english-bpe"
ENGLISH_WIDTH = dict(vocab_size=ENGLISH_VOCAB, d_model=128, n_heads=4, n_layers=4, d_ff=512, max_len=64,
                     positional="learned")
ENGLISH_RECIPES: dict[str, tuple[str, object, et.LMTrainConfig]] = {
    "english-gpt": ("decoder", DecoderConfig(**ENGLISH_WIDTH), et.LMTrainConfig(steps=2400, lr=2e-3, seed=11)),
    "english-bert": ("encoder", EncoderConfig(**ENGLISH_WIDTH), et.LMTrainConfig(steps=3000, lr=2e-3, seed=12)),
}
DEFAULT_METRIC = "exact match of the whole greedy answer (teacher-forced argmax at every answer position, EOS included)"


def train_one(name: str, recipe: Recipe, out_dir: Path) -> dict:
    """Train one recipe from its seed, measure it on the held-out split, write its files; return the card."""
    task = get_task(recipe.task)
    model = build_model(model_config(task, recipe.spec), seed=recipe.train.seed)

    def log(p: Progress) -> None:
        if p.held_out is not None:
            print(f"  {name:9s} step {p.step:5d}  loss {p.loss:.4f}  held-out exact {p.held_out.exact_match:.3f}  "
                  f"{p.elapsed_s:6.1f} s", flush=True)

    start = time.perf_counter()
    history = Trainer(model, task, recipe.train).run(log)
    seconds = time.perf_counter() - start
    scores = evaluate(model, task, n=HELD_OUT_N, seed=HELD_OUT_SEED)
    card = {
        "task": recipe.task, "description": task.description, "seed": recipe.train.seed,
        "spec": dataclasses.asdict(recipe.spec), "train": dataclasses.asdict(recipe.train),
        "held_out": {"exact_match": scores.exact_match, "token_accuracy": scores.token_accuracy, "n": HELD_OUT_N,
                     "seed": HELD_OUT_SEED, "split": "test", "metric": METRICS.get(recipe.task, DEFAULT_METRIC)},
        "training_time_s": round(seconds, 1), "steps": len(history.steps), "threads": torch.get_num_threads(),
        "curve": downsample_curve(history),
    }  # fmt: skip
    card = save_model(model, out_dir / name, card)
    print(f"{name}: held-out exact {scores.exact_match:.4f}, token {scores.token_accuracy:.4f}, {seconds:.1f} s, "
          f"{card['file_bytes'] / 1024:.0f} KiB", flush=True)
    return card


def train_vit_one(name: str, recipe: ViTRecipe, out_dir: Path) -> dict:
    """Train the digits ViT from its seed on the train split, measure it on the whole test split, write its files."""
    splits = digit_splits()
    model = build_vit(recipe.config, seed=recipe.train.seed)

    def log(step: int, loss: float, valid: float | None) -> None:
        if valid is not None:
            print(f"  {name} step {step:5d}  loss {loss:.4f}  valid accuracy {valid:.3f}", flush=True)

    start = time.perf_counter()
    curves = train_vit(model, recipe, splits, log)
    seconds = time.perf_counter() - start
    test = splits["test"]
    card = {
        "seed": recipe.train.seed, "spec": {**dataclasses.asdict(recipe.config), "max_shift": recipe.max_shift},
        "train": dataclasses.asdict(recipe.train),
        "held_out": {"accuracy": round(accuracy(model, test), 6), "n": len(test), "split": "test",
                     "valid_accuracy": round(accuracy(model, splits["valid"]), 6),
                     "metric": "share of the held-out test digits whose most probable class is the label"},
        "training_time_s": round(seconds, 1), "steps": recipe.train.steps, "threads": torch.get_num_threads(),
        "device": "cpu", "data": data_card(splits), "curve": downsample(curves),
    }  # fmt: skip
    card = save_vit(model, out_dir / name, card)
    print(f"{name}: test accuracy {card['held_out']['accuracy']:.4f} ({len(test)} digits), {seconds:.1f} s, "
          f"{card['n_parameters']:,} parameters, {card['file_bytes'] / 1024:.0f} KiB", flush=True)
    return card


def english_tokenizer(out_dir: Path, corpus) -> ByteLevelBPE:
    """The English BPE from ``out_dir/english-bpe`` if present, else learned from the corpus's training split."""
    folder = out_dir / ENGLISH_BPE
    if (folder / "vocab.json").is_file():
        return ByteLevelBPE.from_files(folder / "vocab.json", folder / "merges.txt")
    start = time.perf_counter()
    tokenizer = ByteLevelBPE.train(corpus.train, ENGLISH_VOCAB)
    tokenizer.save(folder)
    print(f"{ENGLISH_BPE}: {tokenizer.vocab_size} tokens, {len(tokenizer.merges)} merges, "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    return tokenizer


def save_bigram_table(out_dir: Path, train_stream: torch.Tensor, vocab_size: int) -> Path:
    """The GPT training tokens' unigram and bigram counts (``english-bpe/train_bigrams.safetensors``, ~3 MB), so the
    tests re-score the card's bigram baseline on a held-out fixture without the corpus."""
    path = out_dir / ENGLISH_BPE / "train_bigrams.safetensors"
    save_file({k: v.contiguous() for k, v in et.bigram_table(train_stream, vocab_size).items()}, str(path))
    return path


def train_english_one(name: str, out_dir: Path, corpus, tokenizer: ByteLevelBPE) -> dict:
    """Train one English model from its seed, measure it and its baselines on the test split, write its files."""
    kind, config, cfg = ENGLISH_RECIPES[name]
    T, ids = config.max_len, tokenizer.special_ids
    special = sorted(ids.values())
    n_ordinary = min(special)  # special tokens come after every ordinary token
    masking = {"mask_id": ids["mask"], "special_ids": special, "n_ordinary": n_ordinary}
    if kind == "decoder":
        streams = {s: et.encode_documents(tokenizer, docs, ids["eot"]) for s, docs in corpus.splits().items()}
        windows = {s: et.causal_windows(stream, T) for s, stream in streams.items()}
        save_bigram_table(out_dir, streams["train"], tokenizer.vocab_size)
    else:
        streams = {s: et.encode_documents(tokenizer, docs, ids["sep"]) for s, docs in corpus.splits().items()}
        windows = {s: et.encoder_windows(stream, T, ids["cls"]) for s, stream in streams.items()}

    def pairs(split: str, limit: int | None, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(seed)
        w = windows[split][:limit]
        return [et.batch_pair(kind, w[i : i + 64], masking, g) for i in range(0, len(w), 64)]

    model = build_model(config, seed=cfg.seed)
    valid_pairs = pairs("valid", cfg.eval_windows, seed=1)

    def log(step: int, loss: float, valid: float | None, elapsed: float) -> None:
        extra = f"  valid {valid:.4f}" if valid is not None else ""
        print(f"  {name} step {step:5d}  loss {loss:.4f}{extra}  {elapsed:7.1f} s", flush=True)

    start = time.perf_counter()
    curves = et.train_lm(model, kind, windows["train"], valid_pairs, cfg, masking=masking, log=log)
    seconds = time.perf_counter() - start
    test_pairs = pairs("test", None, seed=2)
    n_test_tokens = sum(int((t != et.IGNORE).sum()) for _, t in test_pairs)
    if kind == "decoder":
        ce = et.mean_loss(model, test_pairs)
        flat = lambda ps: torch.cat([torch.stack([i.flatten(), t.flatten()], 1) for i, t in ps])  # noqa: E731
        base = et.unigram_bigram_cross_entropy(streams["train"], flat(pairs("valid", None, 1)), flat(test_pairs),
                                               tokenizer.vocab_size)
        held_out = {"cross_entropy": round(ce, 4), "perplexity": round(math.exp(ce), 2),
                    "unigram_cross_entropy": round(base["unigram"], 4),
                    "unigram_perplexity": round(math.exp(base["unigram"]), 2),
                    "bigram_cross_entropy": round(base["bigram"], 4),
                    "bigram_perplexity": round(math.exp(base["bigram"]), 2), "bigram_k": base["bigram_k"],
                    "metric": "next-token cross-entropy in nats per token over every position of the test windows; "
                              "baselines: add-one unigram and add-k bigram (k chosen on valid) counted on the "
                              "training tokens, scored on the same (previous, next) pairs"}  # fmt: skip
    else:
        acc = et.masked_accuracy(model, test_pairs)
        base = et.frequent_token_accuracy(streams["train"], torch.cat([t.flatten() for _, t in test_pairs]), special)
        held_out = {"top1": round(acc["top1"], 4), "top5": round(acc["top5"], 4),
                    "cross_entropy": round(acc["cross_entropy"], 4),
                    "most_frequent_top1": round(base["top1"], 4), "most_frequent_top5": round(base["top5"], 4),
                    "metric": "top-1 / top-5 accuracy at the chosen (80/10/10-masked) positions of the test windows "
                              "(masking seed 2); baseline: always the most frequent training tokens"}  # fmt: skip
    held_out.update({"split": "test", "tokens": n_test_tokens, "windows": len(windows["test"])})
    card = {
        "task": "english-lm" if kind == "decoder" else "english-mlm", "tokenizer": ENGLISH_BPE,
        "description": "causal language model of English (WordNet glosses and examples)" if kind == "decoder"
        else "masked language model of English (WordNet glosses and examples), BERT's 80/10/10 masking",
        "seed": cfg.seed, "train": dataclasses.asdict(cfg), "held_out": held_out, "data": corpus.card(),
        "tokens_seen": cfg.steps * cfg.batch_size * T, "training_time_s": round(seconds, 1), "steps": cfg.steps,
        "threads": torch.get_num_threads(), "device": "cpu",
        "curve": {k: v[:: max(1, len(v) // 200)] for k, v in curves.items() if k in ("steps", "loss")}
        | {"eval_steps": curves["eval_steps"], "valid_loss": curves["valid_loss"]},
    }  # fmt: skip
    card = save_model(model, out_dir / name, card)
    print(f"{name}: {held_out}, {seconds:.1f} s, {card['file_bytes'] / 1e6:.1f} MB", flush=True)
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    everything = [*RECIPES, *VIT_RECIPES, ENGLISH_BPE, *ENGLISH_RECIPES]
    parser.add_argument("names", nargs="*", help=f"models to train (default: all of {', '.join(everything)})")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="train only this model (repeatable; the same as naming it)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as the shipped models "
                        "were trained; on a busy 2-core machine 2 threads ran ~7x slower per step)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help=f"output folder (default {MODELS_DIR})")
    args = parser.parse_args(argv)
    names = [*args.names, *args.only] or everything
    unknown = sorted(set(names) - set(everything))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {everything}")
    torch.set_num_threads(args.threads)
    total = time.perf_counter()
    english = [n for n in names if n == ENGLISH_BPE or n in ENGLISH_RECIPES]
    if english:
        corpus = load_corpus()
        tokenizer = english_tokenizer(args.out, corpus)
    for name in names:
        if name == ENGLISH_BPE:
            continue
        if name in ENGLISH_RECIPES:
            train_english_one(name, args.out, corpus, tokenizer)
        elif name in VIT_RECIPES:
            train_vit_one(name, VIT_RECIPES[name], args.out)
        else:
            train_one(name, RECIPES[name], args.out)
    print(f"total {time.perf_counter() - total:.1f} s", flush=True)


if __name__ == "__main__":
    main()
