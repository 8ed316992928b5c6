"""Step through autoregressive decoding token by token: greedy, temperature, top-k, top-p, and the KV cache."""

import streamlit as st

from core.generation import Sampling
from figures.training import kv_cache_figure, probability_bars
from ui.charts import show_figure
from ui.inputs import ModelBox, pick_input, stop_on_problem
from ui.models import run_decodings
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "generation"
MODELS = ModelBox(families=("decoder", "seq2seq"), note=lambda choice: choice.about,
                  missing="No decoder model available: train one on the 'Train it yourself' page first.")

settings = get_settings()
lab = page_shell(SLUG)
with lab:
    picked = pick_input(SLUG, sentence=None, model=MODELS, device=str(settings.device))
    stop_on_problem(picked)  # UnknownCharacters / InvalidInput say what is wrong and what to type
    choice, text = picked.model, picked.text
    task, vocab = choice.task, choice.task.vocab

    c1, c2, c3, c4 = st.columns(4)
    strategy = c1.radio("Decoding", ["greedy", "sample"], index=1, key=f"{SLUG}_strategy", horizontal=True)
    temperature = c2.slider("Temperature", 0.1, 3.0, 1.0, 0.1, key=f"{SLUG}_temperature",
                            disabled=strategy == "greedy")  # fmt: skip
    top_k = c3.slider("Top-k (0 = off)", 0, len(vocab), 0, key=f"{SLUG}_top_k", disabled=strategy == "greedy")
    top_p = c4.slider("Top-p (1 = off)", 0.05, 1.0, 1.0, 0.05, key=f"{SLUG}_top_p", disabled=strategy == "greedy")
    sampling = Sampling(0.0) if strategy == "greedy" else Sampling(temperature, top_k or None, top_p)
    use_cache = st.toggle("KV cache", True, key=f"{SLUG}_cache",
                          help="On: each step runs only the new token and reuses the cached keys/values. "
                               "Off: each step re-runs the whole prefix.")  # fmt: skip

    runs = run_decodings(choice, text, sampling, settings.seed)  # {use_cache: Decoding}, both modes, same seed
    shown, other = runs[use_cache], runs[not use_cache]
    n = len(shown.steps)
    step = st.slider("Step", 1, n, n if n < 2 else 1, key=f"{SLUG}_step_{task.name}_{n}") if n > 1 else 1
    s = shown.steps[step - 1]
    source = f"source:   {text}\n" if task.family == "seq2seq" else ""
    context = vocab.decode(shown.prompt + shown.tokens[: step - 1])
    st.text(f"{source}context:  {context}▮\nnext:     {vocab.symbols[s.token]!r}  (u = {s.u:.3f})\n"
            f"complete: {vocab.decode(shown.tokens)}   (seed {settings.seed})")  # fmt: skip
    show_figure(probability_bars(list(vocab.symbols), s.probs.tolist(),
                                 model_probs=s.logits.softmax(-1).tolist(), chosen=s.token,
                                 title=f"Step {step}: next-token distribution ({strategy})"),
                key=f"{SLUG}_probs")  # fmt: skip

    st.subheader("KV cache: size and speed")
    cached = runs[True]
    timing = {"with KV cache": cached.seconds_per_token, "without (re-run prefix)": runs[False].seconds_per_token}
    show_figure(kv_cache_figure([st_.cache_bytes for st_ in cached.steps], timing), key=f"{SLUG}_cache_fig")
    same = shown.tokens == other.tokens
    last = cached.steps[-1].cache_bytes
    st.caption(f"Cache after {len(cached.steps)} tokens: {sum(last):,} bytes in {len(last)} layers "
               f"(K and V, float32). Cached and uncached decoding produced "
               f"{'identical tokens' if same else 'DIFFERENT tokens'}; time per token (median of "
               f"{len(cached.steps)} steps each): "
               f"{1000 * timing['with KV cache']:.2f} ms with the cache vs "
               f"{1000 * timing['without (re-run prefix)']:.2f} ms without. With only ~20 positions the prefix "
               "is short, so the saving is small; it grows with the sequence length.")  # fmt: skip
