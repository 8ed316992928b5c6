"""Vision Transformer: a small ViT trained on handwritten digits. Its patches, where [CLS] looks in every layer and
head, and attention rollout, beside an untrained ViT and the identity-projection baseline."""

import numpy as np
import streamlit as st

from core.train.digits import digit_splits
from figures.vit import class_probability_bars, digit_to_rgb, image_with_grid, patch_grid_panels, patch_strip
from ui.charts import show_figure
from ui.settings import get_settings
from ui.shell import page_shell
from ui.vit_digits import digit_run, load_digits_vit, pick_test_digit, upload_digit

SLUG = "vision_transformer"
TEST, UPLOAD = "a held-out test digit", "upload your own…"
TRAINED, UNTRAINED = "trained ViT", "untrained ViT"
BASELINE = "identity-projection baseline"
SCALE = 10  # each pixel of the 8×8 digit drawn as SCALE × SCALE screen pixels


def choose_digit() -> tuple[np.ndarray, int | None, str]:
    """(digit (8, 8) in 0..16, its label when known, where it came from)."""
    if st.radio("Digit", (TEST, UPLOAD), horizontal=True, key=f"{SLUG}_source") == TEST:
        return pick_test_digit(SLUG)
    digit, message, refused = upload_digit(SLUG)
    (st.error if refused else st.info)(message)
    if digit is not None:
        return digit, None, "Your picture, converted as above."
    test = digit_splits()["test"]
    return test.images[0], int(test.labels[0]), "Held-out test digit 0."


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    device = str(settings.device)
    model, card = load_digits_vit(device)
    config, held, data = model.config, card["held_out"], card["data"]
    st.caption(f"**Trained ViT** (`models/{card['name']}`): {config.n_layers} layers, {config.n_heads} heads, "
               f"d_model {config.d_model}, {card['n_parameters']:,} parameters, trained {card['training_time_s']:.0f} s "
               f"on a {card['device'].upper()} from seed {card['seed']}. Held-out accuracy **{held['accuracy']:.1%}** "
               f"on the {held['n']} test digits it never saw. Data: {data['name']} ({data['licence']}).")
    digit, label, where = choose_digit()
    run = digit_run(digit, settings.seed, device)
    rows, cols = config.grid
    p, n = config.patch_size, config.n_patches

    c1, c2 = st.columns(2)
    with c1:
        show_figure(image_with_grid(digit_to_rgb(digit, scale=SCALE), p * SCALE,
                                    f"{rows}×{cols} patches of {p}×{p} pixels"), key=f"{SLUG}_digit")
        st.caption(f"{where} 8×8 grey, 0 (paper) to 16 (ink); hover a patch for its index.")
    with c2:
        guess = int(run.probs.argmax())
        show_figure(class_probability_bars(run.probs, f"Trained ViT: {guess} ({run.probs[guess]:.1%})", label=label),
                    key=f"{SLUG}_probs")
        rand = int(run.untrained_probs.argmax())
        truth = "Your picture has no label." if label is None else f"The label is {label} (red bar)."
        st.caption(f"{truth} The untrained ViT would say {rand} ({run.untrained_probs[rand]:.1%}): chance is 10%.")
    show_figure(patch_strip(digit_to_rgb(digit, scale=SCALE), p * SCALE, per_row=8), key=f"{SLUG}_strip")
    st.caption(f"The {n} patches become {n} tokens of {config.channels * p * p} pixels each; [CLS] goes in front, "
               f"so the encoder reads {n + 1} tokens.")

    st.subheader("Where [CLS] looks, layer by layer and head by head")
    which = st.radio("Model", (TRAINED, UNTRAINED), horizontal=True, key=f"{SLUG}_model")
    cls = run.cls if which == TRAINED else run.untrained_cls  # (L, H, N)
    titles = [f"layer {layer + 1} · head {head}" for layer in range(cls.shape[0]) for head in range(cls.shape[1])]
    show_figure(patch_grid_panels(cls.reshape(-1, rows, cols), titles, f"[CLS]'s weight on each patch, {which}"),
                key=f"{SLUG}_cls")
    if which == UNTRAINED:
        st.caption(f"Same architecture, random initialisation (seed {settings.seed}). With independent random W_Q "
                   f"and W_K the scores are small and unstructured, so every weight sits near 1/{n + 1} = "
                   f"{1 / (n + 1):.3f}: the map is close to uniform (its range here: {cls.min():.3f} to "
                   f"{cls.max():.3f}).")
    else:
        st.caption(f"Row 0 of each head's attention matrix, reshaped to the {rows}×{cols} patch grid ([CLS]'s weight "
                   "on itself is left out, so a panel sums to a little less than 1). Heads differ: attention is "
                   "learned per head.")

    st.subheader("Attention rollout, beside the baselines")
    stack = np.stack([run.rollout, run.untrained_rollout, run.baseline]).reshape(3, rows, cols)
    panels = [f"{TRAINED}<br>rollout", f"{UNTRAINED}<br>rollout (seed {settings.seed})", BASELINE.replace(" ", "<br>")]
    show_figure(patch_grid_panels(stack, panels, "What reaches [CLS]", shared_scale=False, cols=3),
                key=f"{SLUG}_rollout")
    st.caption("Rollout (Abnar & Zuidema 2020): per layer, average the heads, add the identity for the residual "
               "path, renormalise the rows, Â = (mean_h A + I) / 2; multiply through the layers, R = Â_L ··· Â_1; "
               "row 0 of R, without [CLS] itself, is drawn. The identity-projection baseline is not a model: it is "
               "softmax(X Xᵀ / √(p²)) on the centred raw patches (W_Q = W_K = I), pixel similarity alone; it has no "
               "[CLS] row, so its panel shows the weight each patch receives, averaged over the query patches. Each panel is "
               "divided by its own max, so a near-uniform map looks evenly dark; hover for the weights.")
