"""core.hf_import against Hugging Face transformers (a test-only dependency): tiny random GPT-2, BERT and Llama
models saved with save_pretrained, read by load_hf_folder, must give the same logits, attention weights, greedy
continuations, parameter counts and token ids."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.hf_import import hf_parameter_bytes, load_hf_folder
from core.hf_tokenizer import LibraryTokenizer
from core.models import count_parameters
from core.text_model import TextTokenizer, run_text
from core.tokenizer import ByteLevelBPE

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

SENTENCES = [
    "The cat sat on the mat, and the dog didn't mind.",
    "Café crème, naïve résumé: 3.14 × 42 = 131.88!",
    "¿Dónde está la biblioteca? 🙂 Ça va très bien 🚀",
    "Numbers 1234567890 and symbols #@$%^&*() [brackets] {braces}",
] * 3
MIXED = "Café naïve RÉSUMÉ: 3.14 × 42 — ¡Hola! 🙂🚀 don't, can't; x=1+2 #tag\n\tthe end 12345"
LENGTHS = (1, 5, 17)
VOCAB = 300  # 256 byte symbols + merges + <|endoftext|>


def _randomise(model, std: float = 0.3):
    """Weights far from their init (norm gains ~ 1 ± std, everything else ~ N(0, std²)), so attention is peaked and a
    swapped or transposed tensor, or a norm's γ/β mix-up, changes the outputs. Returns the model in eval mode."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(1.0 if p.ndim == 1 and name.endswith("weight") else 0.0, std)
    return model.eval()


def _byte_bpe(folder, *, files: bool):
    """A tiny byte-level BPE trained by the `tokenizers` library: vocab.json + merges.txt and/or tokenizer.json."""
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(SENTENCES, vocab_size=VOCAB, min_frequency=2, special_tokens=["<|endoftext|>"])
    if files:
        bpe.save_model(str(folder))
    bpe.save(str(folder / "tokenizer.json"))


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    torch.manual_seed(1)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     bos_token_id=None, eos_token_id=None, attn_implementation="eager")  # fmt: skip
    model = _randomise(transformers.GPT2LMHeadModel(config))
    model.save_pretrained(folder)
    _byte_bpe(folder, files=True)
    return folder, model


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-bert")
    wordpiece = tokenizers.BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(SENTENCES, vocab_size=200, min_frequency=1)
    wordpiece.save_model(str(folder))  # vocab.txt
    transformers.BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)  # + tokenizer.json, its config
    torch.manual_seed(2)
    config = transformers.BertConfig(vocab_size=wordpiece.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=64, attn_implementation="eager")  # fmt: skip
    model = _randomise(transformers.BertForMaskedLM(config))
    model.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(3)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=96, max_position_embeddings=64,
                                      rope_theta=500.0, rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=None, attn_implementation="eager")  # fmt: skip
    model = _randomise(transformers.LlamaForCausalLM(config))
    model.save_pretrained(folder)
    _byte_bpe(folder, files=False)  # tokenizer.json only
    return folder, model


FAMILIES = ["gpt2", "bert", "llama"]


@pytest.fixture(params=FAMILIES)
def pair(request):
    """(theirs, ours) for one family."""
    folder, model = request.getfixturevalue(request.param)
    return model, load_hf_folder(folder)


def test_logits_and_every_heads_attention_equal_transformers(pair):
    theirs, ours = pair
    gen = torch.Generator().manual_seed(0)
    for length in LENGTHS:
        ids = torch.randint(0, theirs.config.vocab_size, (2, length), generator=gen)
        with torch.no_grad():
            expected = theirs(ids, output_attentions=True)
            got = ours.model(ids, return_trace=True)
        torch.testing.assert_close(got.logits, expected.logits, atol=1e-4, rtol=1e-4)
        assert len(got.trace) == len(expected.attentions)
        for layer, weights in zip(got.trace, expected.attentions, strict=True):
            assert layer.self_attn.weights.shape == weights.shape == (2, 4, length, length)
            torch.testing.assert_close(layer.self_attn.weights, weights, atol=1e-5, rtol=1e-5)
    assert weights.max() > 0.9 and expected.logits.std() > 1  # peaked attention, logits far from zero


def test_full_context_error_is_within_float32_rounding(pair):
    """At the whole context (64 positions) float32 rounding grows (RoPE angles pos · θ_i): our error against a
    float64 run of transformers stays within twice transformers' own float32 error (flash-attention's rule)."""
    theirs, ours = pair
    ids = torch.randint(0, theirs.config.vocab_size, (2, 64), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        exact = copy.deepcopy(theirs).double()(ids, output_attentions=True)
        plain = theirs(ids, output_attentions=True)
        got = ours.model(ids, return_trace=True)

    def errors(logits, attentions) -> tuple[float, float]:
        worst = max((a.double() - b).abs().max().item() for a, b in zip(attentions, exact.attentions, strict=True))
        return (logits.double() - exact.logits).abs().max().item(), worst

    ours_err = errors(got.logits, [t.self_attn.weights for t in got.trace])
    theirs_err = errors(plain.logits, plain.attentions)
    assert all(o <= 2 * t + 1e-6 for o, t in zip(ours_err, theirs_err, strict=True)), (ours_err, theirs_err)


def test_mistral_reads_as_llama_with_its_window_as_context(tmp_path):
    config = transformers.MistralConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=1, intermediate_size=48, max_position_embeddings=64,
                                        sliding_window=16, attn_implementation="eager")  # fmt: skip
    theirs = _randomise(transformers.MistralForCausalLM(config))
    theirs.save_pretrained(tmp_path)
    _byte_bpe(tmp_path, files=False)
    ours = load_hf_folder(tmp_path)
    assert ours.max_len == 16  # within the window, sliding-window attention is plain causal attention
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected, got = theirs(ids, output_attentions=True), ours.model(ids, return_trace=True)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.trace[-1].self_attn.weights, expected.attentions[-1], atol=1e-5, rtol=1e-5)


def test_parameter_counts_and_bytes_from_config_alone(pair):
    theirs, ours = pair
    n = sum(p.numel() for p in theirs.parameters())  # parameters() lists a tied tensor once
    assert count_parameters(ours.model)["total"] == n == ours.card["n_parameters"]
    assert hf_parameter_bytes(ours.card["path"]) == 4 * n


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_greedy_generation_with_our_kv_cache_equals_transformers(family, request):
    folder, theirs = request.getfixturevalue(family)
    ours = load_hf_folder(folder)
    prompt = torch.randint(0, VOCAB, (2, 6), generator=torch.Generator().manual_seed(1))
    expected = theirs.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, do_sample=False,
                               pad_token_id=0)  # fmt: skip
    assert torch.equal(ours.model.generate(prompt, 12, temperature=0), expected)


RECORDS = {"gpt2": ("decoder", "GPT2LMHeadModel"), "bert": ("encoder", "BertForMaskedLM"),
           "llama": ("decoder", "LlamaForCausalLM")}  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_text_model_record(family, request):
    folder, _ = request.getfixturevalue(family)
    tm = load_hf_folder(folder)
    assert (tm.name, tm.kind, tm.max_len, tm.card["source"]) == (folder.name, RECORDS[family][0], 64, "local folder")
    assert (
        tm.card["architecture"] == RECORDS[family][1] and tm.card["config"]["vocab_size"] == tm.model.config.vocab_size
    )
    assert isinstance(tm.tokenizer, TextTokenizer) and not tm.model.training
    run = run_text(tm, tm.tokenizer.encode("the cat sat"))  # what the pages call
    assert run.attention.shape[:2] == (2, 4)
    assert load_hf_folder(folder, name="org/tiny").card["name"] == "org/tiny"


def test_sharded_weights_load(gpt2, tmp_path):
    folder, theirs = gpt2
    theirs.save_pretrained(tmp_path, max_shard_size="50KB")
    shutil.copy(folder / "tokenizer.json", tmp_path)
    assert (tmp_path / "model.safetensors.index.json").is_file() and len(list(tmp_path.glob("*.safetensors"))) > 1
    ids = torch.arange(10)[None]
    with torch.no_grad():
        torch.testing.assert_close(load_hf_folder(tmp_path).model(ids).logits, theirs(ids).logits, atol=1e-4, rtol=1e-4)


# ---- refusals: one line, naming what is wrong ----------------------------------------------------------------------
def _copy(folder, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def test_pickled_weights_are_refused_with_how_to_convert(gpt2, tmp_path):
    folder = _copy(gpt2[0], tmp_path)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"pytorch_model\.bin.*safe_serialization=True") as err:
        load_hf_folder(folder)
    assert "\n" not in str(err.value)


def test_unsupported_type_missing_config_and_missing_tokenizer(gpt2, tmp_path):
    folder = _copy(gpt2[0], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    for load in (load_hf_folder, hf_parameter_bytes):
        with pytest.raises(ValueError, match="model_type 't5' is not supported"):
            load(folder)
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json"):
        load_hf_folder(folder)
    (folder / "config.json").write_text(json.dumps({**config, "quantization_config": {"quant_method": "gptq"}}))
    with pytest.raises(ValueError, match=r"not supported: quantized weights \(gptq\)"):
        hf_parameter_bytes(folder)
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        (folder / name).unlink()
    with pytest.raises(ValueError, match="no tokenizer files"):
        load_hf_folder(folder)


def test_a_weight_of_the_wrong_shape_is_named(gpt2, tmp_path):
    folder = _copy(gpt2[0], tmp_path)
    weights = load_file(folder / "model.safetensors")
    good = weights["transformer.h.1.mlp.c_fc.weight"]  # Conv1D: (in, out) = (32, 128)
    weights["transformer.h.1.mlp.c_fc.weight"] = good[:, :100].contiguous()
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"'transformer\.h\.1\.mlp\.c_fc\.weight' has shape \(100, 32\)") as err:
        load_hf_folder(folder)
    assert "\n" not in str(err.value)
    del weights["transformer.ln_f.bias"]
    weights["transformer.h.1.mlp.c_fc.weight"] = good
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(ValueError, match="no tensor 'transformer.ln_f.bias'"):
        load_hf_folder(folder)


# ---- tokenizers ----------------------------------------------------------------------------------------------------
def test_gpt2_folder_reads_our_byte_level_bpe_with_the_same_ids(gpt2):
    tokenizer = load_hf_folder(gpt2[0]).tokenizer
    reference = tokenizers.Tokenizer.from_file(str(gpt2[0] / "tokenizer.json"))
    assert isinstance(tokenizer, ByteLevelBPE)
    assert tokenizer.special_ids == {"eot": reference.token_to_id("<|endoftext|>")}
    assert tokenizer.encode(MIXED) == reference.encode(MIXED).ids
    assert tokenizer.decode(tokenizer.encode(MIXED)) == MIXED


def test_bert_wordpiece_ids_equal_transformers_from_tokenizer_json_and_from_vocab_txt(bert, tmp_path):
    reference = transformers.AutoTokenizer.from_pretrained(bert[0])
    expected = reference(MIXED + " [MASK] end", add_special_tokens=False)["input_ids"]
    tokenizer = load_hf_folder(bert[0]).tokenizer
    assert isinstance(tokenizer, LibraryTokenizer) and tokenizer.encode(MIXED + " [MASK] end") == expected
    assert {name: reference.convert_ids_to_tokens(i) for name, i in tokenizer.special_ids.items()} == {
        "mask": "[MASK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]"
    }  # fmt: skip
    folder = _copy(bert[0], tmp_path)
    (folder / "tokenizer.json").unlink()  # BERT's older layout: vocab.txt (+ tokenizer_config.json)
    assert load_hf_folder(folder).tokenizer.encode(MIXED + " [MASK] end") == expected
    assert tokenizer.tokens("running dogs")[0] == reference.tokenize("running dogs")[0]


def test_llama_tokenizer_json_ids_equal_transformers(llama):
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(llama[0] / "tokenizer.json"))
    tokenizer = load_hf_folder(llama[0]).tokenizer
    assert tokenizer.encode(MIXED) == reference(MIXED, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(tokenizer.encode(MIXED)) == MIXED
    assert "".join(tokenizer.tokens("The cat sat, 42!")) == "The cat sat, 42!"  # byte symbols shown as text
