"""Several sentences for one English model at once (a page comparing the same word across sentences): one text box
each, every sentence encoded as the model reads it. The single-text picker is ``ui.inputs.pick_input``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from core.text_model import EncodedText, encode_text
from ui.text_models import load_text


@dataclass(frozen=True)
class SentenceField:
    """One box: its label, default text and key (after ``<slug>_``)."""

    label: str
    default: str
    key: str


def english_sentences(slug: str, name: str, fields: Sequence[SentenceField], device: str,
                      max_chars: int = 300) -> list[EncodedText]:
    """One text box per field (side by side), each text encoded for the shipped model ``name``; a box that cannot
    be used (empty) stops the page with a warning naming it, and a text too long for the model is said (st.info)."""
    tm = load_text(name, device)
    columns = st.columns(len(fields))
    texts = [col.text_input(f.label, f.default, max_chars=max_chars, key=f"{slug}_{f.key}")
             for col, f in zip(columns, fields, strict=True)]  # fmt: skip
    encoded = []
    for field, text in zip(fields, texts, strict=True):
        try:
            encoded.append(encode_text(tm, text))
        except ValueError as err:  # EmptyText says what to do
            st.warning(f"{field.label}: {err}")
            st.stop()
        if encoded[-1].cut_message:
            st.info(f"{field.label}: {encoded[-1].cut_message}")
    return encoded
