"""What a page on an English model says above its figures: which weights it shows (the trained model or its
untrained twin) and, when the learner's text was too long, where it was cut."""

from __future__ import annotations

import streamlit as st

from core.text_model import TextModel
from ui.inputs import PickedInput
from ui.text_models import about_text_model, load_text, weights_label


def english_header(picked: PickedInput, device: str) -> TextModel:
    """Caption the weights of ``picked``'s English model (trained: size, data, held-out numbers; untrained: what
    training started from), say ``picked.encoded.cut_message`` (st.info) and return the trained model (its
    tokenizer and context are the untrained twin's too)."""
    tm = load_text(picked.english, device)
    about = about_text_model(tm) if picked.untrained_seed is None else "What training started from."
    st.caption(f"Weights: {weights_label(picked.english, picked.untrained_seed)}. {about}")
    if picked.encoded.cut_message:
        st.info(picked.encoded.cut_message)
    return tm
