"""Fill in the blank with the English BERT: type a sentence with [MASK], see its top-k guesses at each [MASK] and
where that [MASK] looks in every layer and head."""

import streamlit as st
import torch

from core.lab.fill_mask import mask_attention, mask_positions, top_k_at_masks
from figures.fill_mask import mask_attention_figure
from figures.training import probability_bars
from ui.charts import show_figure
from ui.english_header import english_header
from ui.inputs import EnglishBox, pick_input, stop_on_problem
from ui.settings import get_settings
from ui.shell import page_shell
from ui.text_models import text_forward

SLUG = "fill_in_the_blank"
DEFAULT = "The animal didn't cross the [MASK] because it was too tired."
ENGLISH = EnglishBox(kinds=("encoder",), untrained=True, default=DEFAULT,
                     text_label="Your sentence (type [MASK] where a word is missing)")  # fmt: skip

settings = get_settings()
lab = page_shell(SLUG)
with lab:
    device = str(settings.device)
    picked = pick_input(SLUG, sentence=None, english=ENGLISH, device=device, seed=settings.seed)
    stop_on_problem(picked)  # empty text: says to type a sentence
    tm = english_header(picked, device)  # which weights; where a long text was cut
    special = tm.tokenizer.special_ids
    ids, tokens = picked.encoded.ids, list(picked.encoded.tokens)  # a lone space before [MASK] already dropped
    masks = mask_positions(ids, special["mask"])
    if not masks:
        st.warning("There is no [MASK] in your text: type [MASK] (capitals, in square brackets) where a word is "
                   "missing, e.g. 'The cat sat on the [MASK].'")  # fmt: skip
        st.stop()

    forward = text_forward(picked.english, tuple(ids), device, picked.untrained_seed)  # numpy, cached
    c1, c2 = st.columns(2)
    k = c1.slider("Top-k guesses", 1, 30, 10, key=f"{SLUG}_k")
    guesses = top_k_at_masks(torch.from_numpy(forward.logits), masks, k)
    which = 0
    if len(masks) > 1:
        which = c2.selectbox("[MASK] to look at", range(len(masks)), key=f"{SLUG}_which",
                             format_func=lambda j: f"[MASK] #{j + 1} (position {masks[j]})")  # fmt: skip
    guess = guesses[which]
    filled = list(tokens)
    for g in guesses:
        filled[g.position] = tm.tokenizer.readable_token(g.ids[0])
    st.text(f"tokens:  {' | '.join(tokens)}\nfilled:  {''.join(filled[1:-1])}   (the top guess at each [MASK])")
    labels = [tm.tokenizer.readable_token(i) for i in guess.ids]
    show_figure(probability_bars(labels, list(guess.probs), top=k,
                                 title=f"[MASK] #{which + 1} (position {guess.position}): the {k} most likely tokens"),
                key=f"{SLUG}_guesses")  # fmt: skip
    st.caption(f"p = softmax of the model's logits at the [MASK] over all {tm.tokenizer.vocab_size:,} tokens; the "
               f"{k} shown hold {sum(guess.probs):.1%} of it. A leading space is part of a token (' street').")
    if len(ids) < len(picked.encoded.ids):
        st.caption("A space typed before [MASK] is folded into the mask: in training a [MASK] replaced a whole token, "
                   "its leading space included.")  # fmt: skip

    rows = mask_attention(torch.from_numpy(forward.attention), guess.position)  # (L, H, T)
    show_figure(mask_attention_figure(rows, tokens, guess.position), key=f"{SLUG}_attention")
    st.caption("Each row is one head's attention from the [MASK] (query) to every token (keys), summing to 1; the "
               "orange column is the [MASK] itself; colours run from 0 to the largest weight shown. No causal mask: "
               "the [MASK] reads both sides.")
