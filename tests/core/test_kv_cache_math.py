"""KV-cache arithmetic (core/measure/kv_cache_math.py): the formula equals the bytes real cache tensors hold.

References: the bytes of the KVCache tensors a core DecoderOnlyModel fills while decoding (summed here from
element_size · numel and from KVCache.nbytes), and the lessons' meta-device resolver.
"""

from __future__ import annotations

import pytest
import torch

from core.measure.kv_cache_math import (
    DTYPE_BYTES,
    PRESETS,
    cached_positions,
    kv_cache_bytes,
    predicted_cache_check_peak_bytes,
    real_cache_bytes,
    sharing_comparison,
    small_decoder,
    time_generation,
    typical_gqa_heads,
)
from core.measure.memory_meter import measure_peak
from course.live_numbers import kv_cache_bytes_by_dtype as lesson_kv_cache_bytes

GIB = 1 << 30


def test_llama2_7b_cache_at_4096_tokens_in_float16_is_2_gib():
    shape = PRESETS["Llama-2-7B"]
    assert kv_cache_bytes(shape.layers, shape.kv_heads, shape.head_dim, 4096, 1, 2) == 2 * GIB


@pytest.mark.parametrize("name", list(PRESETS))
def test_formula_equals_the_lessons_meta_tensor_resolver_for_every_preset(name):
    s = PRESETS[name]
    for batch, dtype in ((1, "float16"), (8, "float32"), (3, "bfloat16")):
        expected = lesson_kv_cache_bytes(n_layers=s.layers, n_kv_heads=s.kv_heads, d_head=s.head_dim,
                                         seq_len=s.context, batch=batch, dtype=dtype)
        assert kv_cache_bytes(s.layers, s.kv_heads, s.head_dim, s.context, batch, DTYPE_BYTES[dtype]) == expected


@pytest.mark.parametrize(
    ("layers", "heads", "kv_heads", "head_dim", "context", "batch", "dtype"),
    [
        (1, 1, 1, 8, 1, 1, torch.float32),  # one token
        (2, 4, 4, 16, 20, 2, torch.float32),  # MHA
        (3, 4, 2, 8, 33, 3, torch.bfloat16),  # GQA
        (2, 8, 1, 8, 17, 1, torch.float16),  # MQA
    ],
)
def test_formula_equals_real_cache_tensor_bytes(layers, heads, kv_heads, head_dim, context, batch, dtype):
    check = real_cache_bytes(layers, heads, kv_heads, head_dim, context, batch, dtype, decode_steps=4)
    assert check.real_bytes == check.formula_bytes
    assert check.lengths[-1] == context and check.cache_shape == (batch, kv_heads, context, head_dim)
    assert check.real_bytes[-1] == kv_cache_bytes(layers, kv_heads, head_dim, context, batch,
                                                  torch.empty((), dtype=dtype).element_size())


def test_real_bytes_agree_with_kvcache_nbytes():
    """The same count read off the caches directly, independent of real_cache_bytes."""
    model = small_decoder(2, 4, 2, 8, 16)
    caches = model.new_caches()
    with torch.no_grad():
        model(torch.randint(0, 64, (2, 16)), caches=caches)
    assert sum(c.nbytes for c in caches) == kv_cache_bytes(2, 2, 8, 16, 2, 4)


def test_presets_have_consistent_published_shapes():
    d_model = {"Llama-2-7B": 4096, "Llama-2-13B": 5120, "Llama-2-70B": 8192, "Llama-3-8B": 4096,
               "Mistral-7B": 4096, "Falcon-7B": 4544, "GPT-3 175B": 12288}
    for name, shape in PRESETS.items():
        assert shape.heads * shape.head_dim == d_model[name], name
        assert shape.heads % shape.kv_heads == 0 and shape.source, name
    assert PRESETS["Llama-2-70B"].kv_heads == 8 and PRESETS["Mistral-7B"].sliding_window == 4096
    assert PRESETS["Falcon-7B"].attention_kind == "MQA" and PRESETS["Llama-2-7B"].attention_kind == "MHA"
    assert PRESETS["GPT-3 175B"].layers == 96 and PRESETS["GPT-3 175B"].context == 2048


def test_sharing_comparison_scales_with_kv_heads_and_marks_the_model():
    sizes = sharing_comparison(80, 64, 8, 128, 4096)
    values = list(sizes.values())
    assert values[0] == 8 * values[1] == 64 * values[2]
    assert [label for label in sizes if "this model" in label] == ["GQA (8 kv heads) ★ this model"]
    mha = sharing_comparison(32, 32, 32, 128, 4096)
    assert list(mha)[0].endswith("★ this model") and "GQA (8 kv heads)" in mha


def test_typical_gqa_split_and_rolling_buffer():
    assert typical_gqa_heads(32) == 8 and typical_gqa_heads(71) == 1 and typical_gqa_heads(12) == 3
    assert cached_positions(32768, 4096) == 4096 and cached_positions(100, 4096) == 100
    assert cached_positions(32768) == 32768


@pytest.mark.parametrize("bad", [{"layers": 0}, {"kv_heads": 0}, {"head_dim": 0}, {"context": -1}, {"batch": 0}])
def test_invalid_shapes_are_refused(bad):
    args = {"layers": 1, "kv_heads": 1, "head_dim": 1, "context": 1, "batch": 1, **bad}
    with pytest.raises(ValueError):
        kv_cache_bytes(**args)


def test_generation_with_and_without_the_cache_gives_the_same_tokens():
    model = small_decoder(2, 2, 1, 8, 40)
    prompt = torch.randint(0, 64, (2, 24), generator=torch.Generator().manual_seed(0))
    cached = time_generation(model, prompt, 6, use_cache=True)
    recomputed = time_generation(model, prompt, 6, use_cache=False)
    assert torch.equal(cached.tokens, recomputed.tokens) and cached.tokens.shape == (2, 30)
    assert len(cached.seconds) == len(recomputed.seconds) == 6 and min(cached.seconds) > 0


@pytest.mark.parametrize("shape", [(1, 1, 1, 8, 1, 1, torch.float32), (2, 4, 2, 16, 48, 1, torch.float32),
                                   (4, 16, 1, 8, 128, 4, torch.float32), (4, 4, 4, 32, 128, 4, torch.bfloat16),
                                   (4, 16, 4, 32, 9, 4, torch.float16)])
def test_cache_check_peak_prediction_bounds_the_measured_peak(shape):
    """The KV-cache page refuses real_cache_bytes before it runs from this prediction: never below the measured peak."""
    measured = measure_peak(real_cache_bytes, *shape, device="cpu").peak_bytes
    predicted = predicted_cache_check_peak_bytes(*shape)
    assert measured <= predicted <= 1.4 * measured
