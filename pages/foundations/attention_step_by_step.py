"""Type a sentence and follow it through Q, K, V, the scores, ÷√d_k, the mask, softmax and the weighted sum."""

import numpy as np
import streamlit as st

from core.attention import attention
from core.generation import head_inputs
from core.lab.toy_inputs import (
    MAX_TOKENS,
    TokenizeError,
    checked_tokens,
    random_embeddings,
    random_tokens,
    seeded_embeddings,
    seeded_projections,
)
from core.masks import causal_mask
from core.train.tasks import get_task
from course.lessons import escape_markdown
from figures.attention_steps import dim_labels, query_row_figure, token_labels, weighted_sum_figure
from figures.export import AttentionExport
from figures.heatmap import DIVERGING_SCALE, heatmap
from figures.small_multiples import block_separators, every_label, symmetric_range
from ui.charts import show_figure
from ui.models import input_label, load_shipped, resolve_choice, shipped_model_options
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "attention_step_by_step"
DEFAULT_TEXT = "the cat sat on the mat because it was tired"
STAGES = {
    "1 · raw scores QKᵀ": ("raw_scores", "score"),
    "2 · ÷ √d_k (and ÷ temperature)": ("scaled_scores", "score"),
    "3 · mask (masked = −∞, blank)": ("masked_scores", "score"),
    "5 · output = weights · V": ("output", "value"),
}


@st.cache_data(max_entries=64, show_spinner=False)
def compute(tokens: tuple[str, ...] | None, n_random: int, d_model: int, d_k: int, temperature: float, causal: bool,
            seed: int, device: str) -> dict[str, np.ndarray | float]:
    """Embeddings -> Q, K, V -> core attention; every trace field as a numpy array (cached on the inputs)."""
    x = seeded_embeddings(tokens, d_model, seed) if tokens else random_embeddings(n_random, d_model, seed)
    proj = seeded_projections(d_model, d_k, seed)
    q, k, v = (t.to(device) for t in proj.project(x))  # (T, d_k) each
    mask = causal_mask(len(x), device=device) if causal else None
    trace = attention(q, k, v, mask, temperature=temperature)
    fields = {"x": x, "q": q, "k": k, "v": v, **{f: getattr(trace, f) for f in
                                                ("raw_scores", "scaled_scores", "masked_scores", "weights", "output")}}
    return {"scale": trace.scale, **{name: t.detach().cpu().double().numpy() for name, t in fields.items()}}


@st.cache_data(max_entries=64, show_spinner=False)
def compute_trained(name: str, text: str, layer: int, head: int, temperature: float,
                    device: str) -> dict[str, np.ndarray | list[str] | float]:
    """One head of a shipped decoder on ``text``: its q, k, v ``(T, d_k)`` from the model's own forward pass, then
    core attention on them (causal, as the model was trained); also the model's own weights, to compare."""
    model, card = load_shipped(name, device)  # shared and read-only: eval mode, no gradients
    h = head_inputs(model, get_task(card["task"]), text, layer, head)
    trace = attention(h.q, h.k, h.v, causal_mask(len(h.labels)), temperature=temperature)
    fields = {"q": h.q, "k": h.k, "v": h.v, "model_weights": h.weights,
              **{f: getattr(trace, f) for f in ("raw_scores", "scaled_scores", "masked_scores", "weights", "output")}}
    return {"labels": h.labels, "scale": trace.scale,
            **{name: t.detach().cpu().double().numpy() for name, t in fields.items()}}


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    left, right = st.columns(2)
    mode = left.radio("Input", ["Your sentence", "Random tokens", "A trained model"], horizontal=True,
                      key=f"{SLUG}_mode")
    n_random, trained = 0, mode == "A trained model"
    if mode == "Your sentence":
        text = right.text_input("Sentence", DEFAULT_TEXT, max_chars=2000, key=f"{SLUG}_text")
    elif mode == "Random tokens":
        n_random = right.slider("Sequence length", 2, 24, 8, key=f"{SLUG}_length")
    else:
        shipped = shipped_model_options(("decoder",))
        if not shipped:
            st.warning("No shipped decoder model in models/ (run `python scripts/train_models.py`).")
            st.stop()
        choice = resolve_choice(right.selectbox("Trained model", shipped, key=f"{SLUG}_trained"), str(settings.device))
        config = choice.model.config
    c1, c2, c3, c4 = st.columns(4)
    if trained:
        layer = c1.selectbox("Layer", list(range(config.n_layers)), key=f"{SLUG}_trained_layer")
        head = c2.selectbox("Head", list(range(config.n_heads)), key=f"{SLUG}_trained_head")
        d_model, d_k = config.d_model, config.d_model // config.n_heads
    else:
        d_model = c1.slider("d_model (embedding width)", 2, 64, 16, key=f"{SLUG}_d_model")
        d_k = c2.slider("d_k (query/key/value width)", 1, 32, 8, key=f"{SLUG}_d_k")
    temperature = c3.slider("Temperature", 0.1, 5.0, 1.0, step=0.1, key=f"{SLUG}_temperature",
                            help="Scores are divided by it before softmax: < 1 sharpens, > 1 flattens.")
    if trained:
        mask_kind = c4.selectbox("Mask", ["causal"], key=f"{SLUG}_mask_trained", disabled=True,
                                 help="A decoder is trained with the causal mask, so its heads are shown with it.")
    else:
        mask_kind = c4.selectbox("Mask", ["none", "causal"], key=f"{SLUG}_mask")

    if trained:
        task = choice.task
        text = st.text_input(input_label(task), task.default_input,
                             key=f"{SLUG}_trained_text_{task.name}", max_chars=40)
        try:
            r = compute_trained(choice.shipped, text, layer, head, float(temperature), str(settings.device))
        except ValueError as err:  # the task's UnknownCharacters / InvalidInput name the problem
            st.warning(f"This input cannot be used. {escape_markdown(str(err))}. Edit the input above.")
            st.stop()
        tokens = r["labels"]
        gap = float(np.abs(r["weights"] - r["model_weights"]).max()) if temperature == 1 else None
        st.caption(escape_markdown(
            f"{choice.about} Tokens: the input, then the model's own answer (what it reads while answering). "
            f"Q, K, V: layer {layer}, head {head} of the model's forward pass (after W_Q, W_K, W_V and RoPE), "
            "then core.attention on them." + (f" It reproduces the model's own weights: max |Δ| = {gap:.1e}."
                                              if gap is not None else "")))
    elif mode == "Your sentence":
        try:
            tokens = checked_tokens(text, MAX_TOKENS)
        except TokenizeError as err:
            st.warning(str(err))
            st.stop()
        st.caption("Tokenizer: lower-cased words split on whitespace (punctuation stays attached). "
                   f"Embeddings: seeded random N(0, 1) per word (seed {settings.seed}; equal words share a vector, "
                   "no positions added). W_Q, W_K, W_V: seeded random initialisation, N(0, 1/d_model).")
    else:
        tokens = random_tokens(n_random)
        st.caption(f"Random tokens: {n_random} independent N(0, 1) embeddings (seed {settings.seed}). "
                   "W_Q, W_K, W_V: seeded random initialisation, N(0, 1/d_model).")
    if not trained:
        r = compute(tuple(tokens) if mode == "Your sentence" else None, n_random, d_model, d_k, float(temperature),
                    mask_kind == "causal", settings.seed, str(settings.device))
    labels = token_labels(tokens)
    T = len(labels)

    st.subheader("1. Q, K, V: three projections of the same embeddings")
    if trained:
        st.markdown(f"Layer {layer}'s input `X ({T}, {d_model})`, normalised · `W_Q, W_K, W_V ({d_model}, {d_model})` "
                    f"split into {config.n_heads} heads → head {head}'s `Q, K, V`, each `({T}, {d_k})`.")
    else:
        st.markdown(f"`X {tuple(r['x'].shape)}` · `W_Q, W_K, W_V ({d_model}, {d_k})` → "
                    f"`Q = X W_Q`, `K = X W_K`, `V = X W_V`, each `({T}, {d_k})`.")
        lo, hi = symmetric_range(r["x"])
        show_figure(heatmap(r["x"], dim_labels(d_model, "x"), labels,
                            f"Embeddings X ({T} tokens × d_model = {d_model})", colorbar_title="value",
                            x_title="embedding dim", y_title="token", colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi),
                    key=f"{SLUG}_x")  # fmt: skip
    qkv = np.concatenate([r["q"], r["k"], r["v"]], axis=1)  # (T, 3·d_k)
    cols = dim_labels(d_k, "q") + dim_labels(d_k, "k") + dim_labels(d_k, "v")
    lo, hi = symmetric_range(qkv)
    show_figure(block_separators(heatmap(qkv, cols, labels, f"Q | K | V side by side ({T} tokens × 3 · {d_k} dims)",
                                         colorbar_title="value", x_title="dimension", y_title="token",
                                         colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi), d_k, 3), key=f"{SLUG}_qkv")

    st.subheader("2. Scores → ÷√d_k → mask → softmax → weighted sum")
    stage = st.radio("Stage to show (the weights, step 4, are always below)", list(STAGES), horizontal=True,
                     key=f"{SLUG}_stage")
    field, unit = STAGES[stage]
    lo, hi = symmetric_range(r[field])
    if field == "output":
        fig = heatmap(r["output"], dim_labels(d_k, "out"), labels, f"Output = weights · V ({T} × {d_k})",
                      colorbar_title="value", x_title="dimension", colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)
    else:
        fig = heatmap(r[field], labels, labels, f"Stage {stage.split(' (')[0]}", colorbar_title=unit,
                      colorscale=DIVERGING_SCALE, zmin=lo, zmax=hi)
    show_figure(every_label(fig), key=f"{SLUG}_stage_map")
    export = AttentionExport(page=SLUG, model=choice.shipped if trained else f"random-seed{settings.seed}",
                             weights=r["weights"][None, None], query_tokens=tuple(labels), key_tokens=tuple(labels),
                             inputs={"tokens": list(tokens), "d_model": d_model, "d_k": d_k, "t": temperature,
                                     "mask": mask_kind, "seed": settings.seed,
                                     **({"layer": layer, "head": head} if trained else {})})  # fmt: skip
    show_figure(every_label(heatmap(r["weights"], labels, labels, "4 · softmax weights (rows sum to 1)", zmin=0)),
                key=f"{SLUG}_weights", export=export)
    st.caption(f"÷ √d_k = ÷ {1 / r['scale']:.3f}" + (f", then ÷ temperature {temperature:g}" if temperature != 1 else ""))

    st.subheader("3. One query, close up")
    plain = token_labels(tokens, escape=False)  # a select box shows text as it is: no HTML escaping
    if st.session_state.get(f"{SLUG}_query", plain[0]) not in plain:
        st.session_state.pop(f"{SLUG}_query", None)  # the sentence changed: back to the first token
    i = plain.index(st.selectbox("Query token", plain, key=f"{SLUG}_query"))
    show_figure(query_row_figure(r["masked_scores"][i], r["weights"][i], labels, labels[i]), key=f"{SLUG}_row")
    st.caption("Left: the query's row of scores after ÷√d_k (and ÷ temperature); a masked key has score −∞ and no "
               "bar. Right: the same row after softmax. Below: the output is the weights' mix of the value vectors.")
    show_figure(weighted_sum_figure(r["weights"][i], r["v"], r["output"][i], labels, labels[i]), key=f"{SLUG}_sum")
    st.caption(f"Device: {settings.device}. Hover any cell or bar for its exact value.")
