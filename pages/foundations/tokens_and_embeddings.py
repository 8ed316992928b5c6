"""Tokens and embeddings: your text split by BPE merge by merge, the token count as the merges grow, token ids,
nearest neighbours in a trained embedding matrix (and its untrained twin), and one word's vector in two sentences."""

import pandas as pd
import streamlit as st

from core.lab.tokens import cosine_neighbours, layer_cosines, merge_rows, shared_token_ids, token_count_curve, visible
from figures.tokens import layer_cosine_figure, neighbours_figure, token_count_figure
from ui.charts import show_figure
from ui.english_header import english_header
from ui.figure_memo import memo_figure
from ui.inputs import EnglishBox, pick_input
from ui.sentence_boxes import SentenceField, english_sentences
from ui.settings import get_settings
from ui.shell import page_shell
from ui.text_models import ENGLISH_BERT, english_model_names, load_text, load_untrained, text_forward

SLUG = "tokens_and_embeddings"
ENGLISH = EnglishBox(text_label="Your text (try a rare word, a number or an emoji)")
BANK = (SentenceField("Sentence A", "I sat on the bank of the river.", "bank_a"),
        SentenceField("Sentence B (another sense)", "I put my money in the bank.", "bank_b"),
        SentenceField("Control C (A's sense)", "The boat drifted to the bank of the stream.", "bank_c"))  # fmt: skip


@st.cache_data(max_entries=64, show_spinner=False)
def count_curve(name: str, text: str) -> tuple[list[int], list[int]]:
    """core.lab.tokens.token_count_curve of ``text`` with model ``name``'s BPE, as lists (cached per text)."""
    curve = token_count_curve(load_text(name).tokenizer, text)
    return curve.n_merges.tolist(), curve.counts.tolist()


def show_merges(tok, text: str) -> None:
    """Section 1: every word's bytes, then each merge BPE applies to it, in order."""
    st.subheader("1 · Your text, merge by merge")
    rows = [{"word": r.word, "step": r.step, "merge #": "" if r.rank is None else str(r.rank + 1),
             "left + right → merged": "bytes" if r.rank is None else f"{r.left} + {r.right} → {r.merged}",
             "pieces after": " | ".join(r.symbols)} for r in merge_rows(tok, text)]  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{SLUG}_merge_table")
    st.caption("Each word (GPT-2's pre-split: a leading space, ␣, belongs to the word after it) starts as its UTF-8 "
               "bytes; BPE then applies the lowest-numbered learned merge present, again and again. Merge #k is the "
               "k-th pair learned. A byte of a multi-byte character (an emoji) shows as \\xNN.")  # fmt: skip


def show_vocabulary_size(name: str, tok, text: str) -> None:
    """Section 2: apply only the first N merges; the tokens at N and the count curve with N marked."""
    st.subheader("2 · Fewer merges, more tokens")
    n = st.slider("Apply only the first N merges", 0, len(tok.merges), len(tok.merges), key=f"{SLUG}_merges")
    tokens = tok.tokens(text, max_merges=n)
    st.code(" | ".join(visible(t) for t in tokens), language=None, wrap_lines=True)
    ns, counts = count_curve(name, text)
    show_figure(memo_figure(f"{SLUG}_count", token_count_figure, ns, counts, n, len(tokens)), key=f"{SLUG}_count")
    st.caption(f"{len(tokens)} tokens at N = {n}; {counts[0]} at N = 0 (one per byte), {counts[-1]} with all "
               f"{len(tok.merges):,} merges (vocabulary {tok.vocab_size:,}: 256 bytes + merges + special tokens). "
               "The count is len(encode(text, max_merges=N)), computed at every N where a merge your text uses "
               "switches on.")  # fmt: skip


def show_ids(picked) -> None:
    """Section 3: what the model reads: position, token, id."""
    st.subheader("3 · Token ids")
    enc = picked.encoded
    st.dataframe(pd.DataFrame({"position": range(len(enc.ids)), "token": [visible(t) for t in enc.tokens],
                               "id": enc.ids}), hide_index=True, key=f"{SLUG}_ids")  # fmt: skip
    st.caption(f"{picked.english} reads these ids; position 0 (and the last for a BERT) is framing the model was "
               "trained with, not your text. Each id picks one row of the embedding matrix.")


def show_neighbours(picked, tm, seed: int, device: str) -> None:
    """Section 4: a token's nearest rows in the trained embedding matrix and in the untrained twin's."""
    st.subheader("4 · Nearest neighbours in the embedding matrix")
    special = set(tm.tokenizer.special_ids.values())
    options = list(dict.fromkeys(i for i in picked.encoded.ids if i not in special))
    c1, c2 = st.columns(2)
    longest = max(options, key=lambda i: len(tm.tokenizer.readable_token(i)))  # a whole word more likely than "The"
    token = c1.selectbox("Token of your text", options, key=f"{SLUG}_token", index=options.index(longest),
                         format_func=lambda i: visible(tm.tokenizer.readable_token(i)))  # fmt: skip
    k = c2.slider("Neighbours shown", 3, 30, 10, key=f"{SLUG}_k")
    left, right = st.columns(2)
    untrained = load_untrained(picked.english, seed, device)
    for col, model, label in ((left, tm, f"trained {picked.english}"), (right, untrained, f"untrained (seed {seed})")):
        near = cosine_neighbours(model.model.embedding.weight, token, k)
        labels = [visible(tm.tokenizer.readable_token(i)) for i in near.ids]
        key = f"{SLUG}_near_{'untrained' if model is untrained else 'trained'}"
        with col:
            show_figure(memo_figure(key, neighbours_figure, visible(tm.tokenizer.readable_token(token)), labels,
                                    near.similarities, label), key=key)
    V, d = tm.model.embedding.weight.shape
    st.caption(f"Cosine similarity between rows of the embedding matrix E ({V:,} × {d}) of the trained "
               f"{picked.english} (left) and of its untrained twin (right: same architecture, seeded random weights, "
               "what training started from). Training moved rows of tokens used alike closer together.")


def show_bank(device: str) -> None:
    """Section 5: one word's vector in two sentences, at the embedding layer and after each encoder layer."""
    st.subheader("5 · The same word in two sentences")
    if ENGLISH_BERT not in english_model_names(("encoder",)):
        st.info(f"{ENGLISH_BERT} is not in models/: this comparison needs it.")
        return
    tok = load_text(ENGLISH_BERT, device).tokenizer
    a, b, c = english_sentences(SLUG, ENGLISH_BERT, BANK, device)
    shared = shared_token_ids(a.ids, b.ids, skip=tok.special_ids.values())
    if not shared:
        st.warning("Sentences A and B share no token: use one word in both (e.g. ' bank').")
        st.stop()
    default = tok.encode(" bank")[0]
    word = st.selectbox("Word in both A and B", shared, key=f"{SLUG}_word",
                        index=shared.index(default) if default in shared else 0,
                        format_func=lambda i: visible(tok.readable_token(i)))  # fmt: skip
    hidden = [text_forward(ENGLISH_BERT, e.ids, device).hidden for e in (a, b, c)]  # (L + 1, T, d) each
    t_a, t_b = a.ids.index(word), b.ids.index(word)
    series = {"A vs B": layer_cosines(hidden[0], t_a, hidden[1], t_b)}
    if word in c.ids:
        series["A vs C (control)"] = layer_cosines(hidden[0], t_a, hidden[2], c.ids.index(word))
    shown = visible(tok.readable_token(word))
    show_figure(memo_figure(f"{SLUG}_bank", layer_cosine_figure, series,
                            f"Cosine similarity of '{shown}' in two sentences, by depth"), key=f"{SLUG}_bank")
    missing = "" if word in c.ids else " The control sentence C does not contain this token, so it has no line."
    numbers = "; ".join(f"{name}: {v[0]:.4f} at depth 0, {v[-1]:.4f} after the last layer" for name, v in series.items())
    st.caption(f"{numbers}. Weights: trained {ENGLISH_BERT}, whose every layer reads the whole sentence. Depth 0 is the token's "
               f"embedding plus the learned vector of its position (A: position {t_a}, B: {t_b}), so it is 1 only "
               "when the positions are equal; depth l is the residual stream after layer l. First occurrence in "
               f"each sentence; positions count the [CLS] at 0.{missing}")  # fmt: skip


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    device = str(settings.device)
    picked = pick_input(SLUG, sentence=None, english=ENGLISH, device=device, seed=settings.seed)
    if picked.problem is None:
        tm = english_header(picked, device)  # which weights; where a long text was cut
        show_merges(tm.tokenizer, picked.text)
        show_vocabulary_size(picked.english, tm.tokenizer, picked.text)
        show_ids(picked)
        show_neighbours(picked, tm, settings.seed, device)
    else:  # empty text: say so, and keep section 5 (its own sentences) on the page
        st.warning(picked.problem)
    show_bank(device)
