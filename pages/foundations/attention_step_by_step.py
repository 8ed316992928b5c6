"""Type a sentence and follow it through Q, K, V, the scores, ÷√d_k, the mask, softmax and the weighted sum."""

import streamlit as st

from figures import attention_steps as steps
from figures.attention_steps import token_labels
from figures.export import AttentionExport
from figures.heatmap import heatmap
from figures.small_multiples import every_label
from ui.charts import show_figure
from ui.english_heads import show_head_maps, trained_vs_untrained
from ui.figure_memo import memo_figure
from ui.inputs import EnglishBox, ModelBox, pick_input
from ui.settings import get_settings
from ui.shell import page_shell
from ui.step_heads import HeadRun, head_run

SLUG = "attention_step_by_step"


def stage_map(r: dict, stage: str, labels: list[str]):
    """figures.attention_steps.stage_figure with every token labelled."""
    return every_label(steps.stage_figure(r, stage, labels))


def weights_map(weights, labels: list[str]):
    """The softmax weights ``(T, T)`` as a heatmap, every token labelled."""
    return every_label(heatmap(weights, labels, labels, "4 · softmax weights (rows sum to 1)", zmin=0))


def show_qkv(run: HeadRun) -> None:
    """Step 1: the embeddings (seeded path only) and Q | K | V side by side."""
    st.subheader("1. Q, K, V: three projections of the same embeddings")
    st.markdown(run.qkv_note)
    labels = token_labels(run.tokens)
    if "x" in run.r:  # a trained head's input X is the model's own residual stream: not drawn
        show_figure(memo_figure(f"{SLUG}_x", steps.embeddings_figure, run.r["x"], labels), key=f"{SLUG}_x")
    show_figure(memo_figure(f"{SLUG}_qkv", steps.qkv_figure, run.r["q"], run.r["k"], run.r["v"], labels),
                key=f"{SLUG}_qkv")


def show_stages(run: HeadRun, settings) -> None:
    """Step 2: one chosen stage of the scores (or the output), then the softmax weights with their export."""
    st.subheader("2. Scores → ÷√d_k → mask → softmax → weighted sum")
    stage = st.radio("Stage to show (the weights, step 4, are always below)", list(steps.STAGES), horizontal=True,
                     key=f"{SLUG}_stage")
    labels = token_labels(run.tokens)
    show_figure(memo_figure(f"{SLUG}_stage_map", stage_map, run.r, stage, labels), key=f"{SLUG}_stage_map")
    export = AttentionExport(page=SLUG, model=run.model, weights=run.r["weights"][None, None],
                             query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"tokens": list(run.tokens), "d_model": run.d_model, "d_k": run.d_k,
                                     "t": run.temperature, "mask": run.mask, "seed": settings.seed, **run.extra})
    show_figure(memo_figure(f"{SLUG}_weights", weights_map, run.r["weights"], labels), key=f"{SLUG}_weights",
                export=export)
    st.caption(f"÷ √d_k = ÷ {1 / float(run.r['scale']):.3f}"
               + (f", then ÷ temperature {run.temperature:g}" if run.temperature != 1 else ""))


def show_query(run: HeadRun, settings) -> None:
    """Step 3: one query's scores and weights, and its output as the weights' mix of the value vectors."""
    st.subheader("3. One query, close up")
    labels, plain = token_labels(run.tokens), token_labels(run.tokens, escape=False)  # a select box: no escaping
    if st.session_state.get(f"{SLUG}_query", plain[0]) not in plain:
        st.session_state.pop(f"{SLUG}_query", None)  # the sentence changed: back to the first token
    i = plain.index(st.selectbox("Query token", plain, key=f"{SLUG}_query"))
    show_figure(memo_figure(f"{SLUG}_row", steps.query_row_figure, run.r["masked_scores"][i], run.r["weights"][i],
                            labels, labels[i]), key=f"{SLUG}_row")
    st.caption("Left: the query's row of scores after ÷√d_k (and ÷ temperature); a masked key has score −∞ and no "
               "bar. Right: the same row after softmax. Below: the output is the weights' mix of the value vectors.")
    show_figure(memo_figure(f"{SLUG}_sum", steps.weighted_sum_figure, run.r["weights"][i], run.r["v"],
                            run.r["output"][i], labels, labels[i]), key=f"{SLUG}_sum")
    st.caption(f"Device: {settings.device}. Hover any cell or bar for its exact value.")


TRAINED = ModelBox("Trained model", "trained", ("decoder",), yours=False, text_key="trained_text",
                   missing="No shipped decoder model in models/ (run `python scripts/train_models.py`).")
settings = get_settings()
lab = page_shell(SLUG)
with lab:
    left, right = st.columns(2)
    row, text_at = st.columns(4), st.empty()  # the parameters' row, then (trained model) its input box
    picked = pick_input(SLUG, english=EnglishBox(untrained=True), random=True, model=TRAINED, where=(left, right),
                        text_at=text_at, device=str(settings.device), seed=settings.seed)
    english = picked.source == "english"
    temperature = 1.0 if english else row[2].slider("Temperature", 0.1, 5.0, 1.0, step=0.1, key=f"{SLUG}_temperature",
                                                    help="Scores are divided by it before softmax: < 1 sharpens, > 1 "
                                                         "flattens.")  # fmt: skip
    run = head_run(SLUG, picked, temperature, settings, row)
    show_qkv(run)
    show_stages(run, settings)
    if english:
        st.subheader("Trained vs untrained: the same sentence, the same head")
        show_head_maps(SLUG, "twins", trained_vs_untrained(picked.english, picked.encoded, settings.seed),
                       run.extra["layer"], run.extra["head"], "Trained vs untrained", str(settings.device))
    show_query(run, settings)
