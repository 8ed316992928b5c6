"""Step through autoregressive decoding token by token on the English GPT (or a task model): the next-token
distribution, the cut temperature / top-k / top-p make in it, and decoding with and without the KV cache."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from core.generation import Decoding, Sampling
from core.lab.sampling_cut import sampling_cut
from course.markdown_text import escape_markdown
from figures.training import kv_cache_figure, sampling_cut_figure
from ui.charts import show_figure
from ui.english_header import english_header
from ui.figure_memo import memo_figure
from ui.inputs import EnglishBox, ModelBox, PickedInput, pick_input, stop_on_problem
from ui.models import english_decodings, run_decodings
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "generation"
TOP = 25  # tokens drawn in the distribution figure
ENGLISH = EnglishBox(kinds=("decoder",), untrained=True, text_label="Prompt", default="A dog is an animal that")
MODELS = ModelBox(families=("decoder", "seq2seq"), note=lambda choice: choice.about,
                  missing="No decoder model available: train one on the 'Train it yourself' page first.")


@dataclass(frozen=True)
class Generated:
    """Both decodings ({use_cache: Decoding}, same seed), the rule they sampled with, how one token id reads
    (``label``) and how ids read as text (``text``); ``source``: a seq2seq model's input line (else '')."""

    runs: dict[bool, Decoding]
    sampling: Sampling
    label: Callable[[int], str]
    text: Callable[[Sequence[int]], str]
    source: str = ""


def sampling_controls(max_top_k: int) -> Sampling:
    c1, c2, c3, c4 = st.columns(4)
    strategy = c1.radio("Decoding", ["greedy", "sample"], index=1, key=f"{SLUG}_strategy", horizontal=True)
    greedy = strategy == "greedy"
    temperature = c2.slider("Temperature", 0.1, 3.0, 1.0, 0.1, key=f"{SLUG}_temperature", disabled=greedy)
    top_k = c3.slider("Top-k (0 = off)", 0, max_top_k, 0, key=f"{SLUG}_top_k", disabled=greedy)
    top_p = c4.slider("Top-p (1 = off)", 0.05, 1.0, 0.9, 0.05, key=f"{SLUG}_top_p", disabled=greedy)
    return Sampling(0.0) if greedy else Sampling(temperature, top_k or None, top_p)


def english_generation(picked: PickedInput, device: str, seed: int) -> Generated:
    tm = english_header(picked, device)  # which weights; where a long text was cut
    prompt = picked.encoded.ids
    room = tm.max_len - len(prompt)
    if room < 1:
        st.warning(f"The prompt fills the model's whole context ({tm.max_len} tokens): shorten it to leave room.")
        st.stop()
    sampling = sampling_controls(100)
    n_new = st.slider("Max new tokens", 1, room, min(20, room), key=f"{SLUG}_max_new",
                      help=f"Prompt + new tokens ≤ {tm.max_len}, the model's context.")  # fmt: skip
    st.caption(f"The prompt is {len(prompt)} tokens (the <|endoftext|> every training document began with, then "
               f"your text), so at most {room} new tokens fit in the model's context of {tm.max_len}. Generation "
               "stops early when the model writes <|endoftext|>.")  # fmt: skip
    runs = english_decodings(picked.english, prompt, n_new, sampling, seed, device, picked.untrained_seed)
    tok = tm.tokenizer
    return Generated(runs, sampling, tok.readable_token, lambda ids: tok.decode(list(ids)))


def task_generation(picked: PickedInput, device: str, seed: int) -> Generated:
    choice, vocab = picked.model, picked.model.task.vocab
    sampling = sampling_controls(len(vocab))
    source = f"source:   {picked.text}\n" if choice.task.family == "seq2seq" else ""
    return Generated(run_decodings(choice, picked.text, sampling, seed), sampling, lambda i: vocab.symbols[i],
                     vocab.decode, source)  # fmt: skip


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    device = str(settings.device)
    picked = pick_input(SLUG, sentence=None, english=ENGLISH, model=MODELS, device=device, seed=settings.seed)
    stop_on_problem(picked)  # empty text, unknown characters: say what is wrong and what to type
    view = english_generation if picked.source == "english" else task_generation
    gen = view(picked, device, settings.seed)
    use_cache = st.toggle("KV cache", True, key=f"{SLUG}_cache",
                          help="On: each step runs only the new token and reuses the cached keys/values. "
                               "Off: each step re-runs the whole prefix.")  # fmt: skip

    shown, other = gen.runs[use_cache], gen.runs[not use_cache]
    n = len(shown.steps)
    step = st.slider("Step", 1, n, n if n < 2 else 1, key=f"{SLUG}_step_{n}") if n > 1 else 1
    s = shown.steps[step - 1]
    context = gen.text(shown.prompt + shown.tokens[: step - 1])
    st.text(f"{gen.source}context:  {context}▮\nnext:     {gen.label(s.token)!r}  (u = {s.u:.3f})\n"
            f"complete: {gen.text(shown.tokens)}   (seed {settings.seed})")  # fmt: skip
    cut = sampling_cut(s.logits, gen.sampling, top=TOP)
    rule = ("greedy" if gen.sampling.temperature == 0 else
            f"T = {gen.sampling.temperature:g}, top-k = {gen.sampling.top_k or 'off'}, top-p = {gen.sampling.top_p:g}")
    show_figure(memo_figure(f"{SLUG}_probs", sampling_cut_figure, cut, [gen.label(i) for i in cut.ids], chosen=s.token,
                            top_k=gen.sampling.top_k, top_p=gen.sampling.top_p,
                            title=f"Step {step}: next-token distribution ({rule})"), key=f"{SLUG}_probs")
    kept = int((s.probs > 0).sum())
    rank = int((s.probs > s.probs[s.token]).sum()) + 1  # among the sampled-from distribution
    token = escape_markdown(repr(gen.label(s.token)))
    drawn = "" if s.token in cut.ids else f" The drawn token {token} (rank {rank}) is beyond the {TOP} shown."
    st.caption(f"Outlined bars: softmax(z / T) before the cut; hatched grey: removed by top-k / top-p (or greedy); "
               f"filled: the {kept:,} kept of {len(s.probs):,} tokens, renormalised (they held "
               f"{cut.kept_mass:.1%} of the mass). Green line: cumulative mass before the cut. The token drawn "
               f"(orange) is the first whose cumulative sampled probability exceeds u.{drawn}")  # fmt: skip

    st.subheader("KV cache: size and speed")
    cached = gen.runs[True]
    timing = {"with KV cache": cached.seconds_per_token, "without (re-run prefix)": gen.runs[False].seconds_per_token}
    show_figure(memo_figure(f"{SLUG}_cache_fig", kv_cache_figure, [st_.cache_bytes for st_ in cached.steps], timing),
                key=f"{SLUG}_cache_fig")
    same = shown.tokens == other.tokens
    last = cached.steps[-1].cache_bytes
    st.caption(
        f"Cache after {len(cached.steps)} tokens: {sum(last):,} bytes in {len(last)} layers (K and V, float32). "
        f"Cached and uncached decoding produced {'identical tokens' if same else 'DIFFERENT tokens'}; time per token "
        f"(median of {len(cached.steps)} steps each, measured once and cached): "
        f"{1000 * timing['with KV cache']:.2f} ms with the cache vs {1000 * timing['without (re-run prefix)']:.2f} ms "
        "without. With a short prefix the saving is small; it grows with the sequence length.")  # fmt: skip
