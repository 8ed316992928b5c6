"""What the English-model sections of the pages must draw, recomputed here from the core (core.text_model.run_text,
not the pages' code): one head's weights on a text, for a trained English model or its untrained twin."""

from __future__ import annotations

import functools

import numpy as np

from core.text_model import EncodedText, encode_text, load_text_model, run_text, shipped_text_models, untrained_twin

GPT, BERT = "english-gpt", "english-bert"
HAVE_ENGLISH = {GPT, BERT} <= set(shipped_text_models())
EMOJI_TEXT = "Le café 🤖 a <b>bold</b> plan"
LONG_TEXT = " ".join(["word"] * 100)  # 499 characters (the box takes 600), 100 tokens (the context: 64)


@functools.cache
def _model(name: str, seed: int | None):
    tm = load_text_model(name)
    return tm if seed is None else untrained_twin(tm, seed)


def encoded(name: str, text: str) -> EncodedText:
    return encode_text(_model(name, None), text)


def head_weights(name: str, text: str, layer: int, head: int, seed: int | None = None) -> np.ndarray:
    """run_text's attention ``(T, T)`` of layer ``layer``, head ``head`` (the untrained twin's when ``seed``)."""
    return run_text(_model(name, seed), encoded(name, text).ids).attention[layer, head].double().numpy()


def blank_masked(weights: np.ndarray, name: str) -> np.ndarray:
    """The weights as a masked map draws them: NaN above the diagonal for the causal GPT, all shown for the BERT."""
    if name != GPT:
        return weights
    return np.where(np.tril(np.ones_like(weights, dtype=bool)), weights, np.nan)


def assert_map(z: np.ndarray, expected: np.ndarray) -> None:
    """A drawn map equals the expected one: the same blank (NaN) cells, the same values elsewhere."""
    np.testing.assert_array_equal(np.isnan(z), np.isnan(expected))
    np.testing.assert_allclose(np.nan_to_num(z), np.nan_to_num(expected), rtol=1e-5, atol=1e-6)
