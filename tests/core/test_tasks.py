"""Synthetic tasks: answers, tensors, held-out split, vocabulary errors."""

from __future__ import annotations

import random

import pytest
import torch

from core.train.tasks import IGNORE, TASKS, get_task, is_held_out
from core.train.vocab import BOS, EOS, MASK, SEP, InvalidInput, UnknownCharacters, Vocab


def test_answers():
    assert get_task("copy").answer("abca") == "abca"
    assert get_task("reverse").answer("abcd") == "dcba"
    assert get_task("sort").answer("dbca") == "abcd"
    assert get_task("induction").answer("kqbz") == "qbz"
    assert get_task("dates").answer("2 Nov 2026") == "2026-11-02"
    assert get_task("dates").answer("22 Nov 2026") == "2026-11-22"
    assert get_task("masked").answer("ab?d=a?cd") == "abcd=abcd"
    assert get_task("masked").answer("?b=?b") is None  # both copies hidden: not determined


@pytest.mark.parametrize("name", list(TASKS))
def test_drawn_examples_are_right_and_fit_the_model(name):
    task, rng = get_task(name), random.Random(0)
    for ex in task.sample(rng, 200) + task.sample(rng, 50, "test"):
        assert task.answer(ex.source) == ex.target
        task.check_input(ex.source)  # every drawn input is a valid learner input
    batch = task.batch(task.sample(rng, 64))
    assert batch.tokens.shape == batch.targets.shape
    assert batch.tokens.shape[1] <= task.max_positions
    assert (batch.targets != IGNORE).any(dim=1).all(), "every example must carry some loss"
    if batch.src is not None:
        assert batch.src.shape[1] <= task.max_positions


def test_decoder_batch_is_shifted_with_loss_on_the_answer_only():
    task = get_task("reverse")
    batch = task.batch([task.example("abc")])
    v = task.vocab
    assert v.decode(batch.tokens[0]) == f"{BOS}abc{SEP}cba"
    targets = [v.symbols[t] if t != IGNORE else None for t in batch.targets[0].tolist()]
    assert targets == [None, None, None, None, "c", "b", "a", EOS]  # ^abc predict nothing; = c b a predict c b a $


def test_induction_prompt_and_targets():
    task = get_task("induction")
    batch = task.batch([task.example("kqbz")])
    assert task.vocab.decode(batch.tokens[0]) == f"{BOS}kqbzkqb"
    scored = [task.vocab.symbols[t] for t in batch.targets[0].tolist() if t != IGNORE]
    assert scored == list("qbz")  # the repeated half from its second letter


def test_seq2seq_batch_is_teacher_forced():
    task = get_task("dates")
    batch = task.batch([task.example("2 Nov 2026"), task.example("22 Nov 2026")])
    v = task.vocab
    assert v.decode(batch.src[0, : batch.src_lengths[0]]) == "2 Nov 2026"
    assert v.decode(batch.tokens[0]) == f"{BOS}2026-11-02"
    assert v.decode(batch.targets[0]) == f"2026-11-02{EOS}"
    assert batch.src_lengths.tolist() == [10, 11]


def test_masked_batch_targets_only_masked_positions():
    task = get_task("masked")
    batch = task.batch([task.example("ab?d=a?cd")])
    targets = batch.targets[0].tolist()
    assert [task.vocab.symbols[targets[i]] for i in (2, 6)] == ["c", "b"]
    assert sum(t != IGNORE for t in targets) == 2


def test_masked_draw_never_hides_both_copies():
    task, rng = get_task("masked"), random.Random(1)
    for ex in task.sample(rng, 300):
        left, _, right = ex.source.partition(SEP)
        assert MASK in ex.source
        assert not any(a == MASK and b == MASK for a, b in zip(left, right, strict=True))


@pytest.mark.parametrize("name", list(TASKS))
def test_train_and_held_out_splits_are_disjoint(name):
    task = get_task(name)
    train = {task.split_key(e) for e in task.sample(random.Random(0), 500)}
    test = {task.split_key(e) for e in task.sample(random.Random(0), 200, "test")}
    assert not train & test
    assert all(is_held_out(name, k) for k in test)


def test_sampling_is_deterministic_for_a_seed():
    task = get_task("sort")
    assert task.sample(random.Random(3), 20) == task.sample(random.Random(3), 20)


def test_vocab_roundtrip_and_unknown_characters_are_named():
    v = Vocab.from_alphabet("cab")
    assert v.symbols[:5] == ("_", "^", "$", "=", "?")
    assert v.decode(v.encode("abc=")) == "abc="
    with pytest.raises(UnknownCharacters) as err:
        v.encode("aXbZX")
    assert err.value.chars == ("X", "Z")
    assert "'X'" in str(err.value) and "'Z'" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_check_input_messages():
    with pytest.raises(UnknownCharacters, match="'z'"):
        get_task("reverse").check_input("abz")  # z is outside the 16-letter alphabet
    with pytest.raises(UnknownCharacters, match="'='"):
        get_task("copy").check_input("ab=c")  # specials cannot be typed as input
    with pytest.raises(InvalidInput, match="1 to 8"):
        get_task("copy").check_input("abcabcabc")
    with pytest.raises(InvalidInput, match="once"):
        get_task("induction").check_input("abca")
    with pytest.raises(InvalidInput, match="day Mon year"):
        get_task("dates").check_input("22 Nv 2026")
    with pytest.raises(InvalidInput, match="hide"):
        get_task("masked").check_input("abc=abc")
    for task in TASKS.values():
        task.check_input(task.default_input)  # the example inputs the pages start with are valid


def test_tokens_are_long_tensors():
    batch = get_task("copy").batch(get_task("copy").sample(random.Random(0), 4))
    assert batch.tokens.dtype == torch.long and batch.targets.dtype == torch.long
