"""The English corpus parser and the LM / MLM training pieces: windows, BERT's 80/10/10 masking, count baselines."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from core.train import english_training as et
from core.train.english_corpus import parse_synset_line, split_documents

LINES = [
    "  1 This software and database is being provided to you, the LICENSEE, by Princeton University\n",
    '00006150 03 n 01 parent 0 001 @ 00004475 n 0000 | an organism (plant or animal) from which younger ones are '
    'obtained  \n',
    '00123456 00 a 01 galore(ip) 0 000 | in great numbers; "wildflowers galore"; "singers galore"  \n',
    '00223344 29 v 02 cross 0 traverse 0 001 @ 0 v 0000 | travel across or pass over; "The animal didn\'t cross '
    'the street"  \n',
    '00999999 04 n 01 street_fighter 0 000 | "only an example"  \n',
]


def test_synset_lines_become_documents():
    docs = [parse_synset_line(line) for line in LINES]
    assert docs[0] is None  # the licence header
    assert docs[1] == "parent: an organism (plant or animal) from which younger ones are obtained."
    assert docs[2] == "galore: in great numbers.\nwildflowers galore\nsingers galore"
    assert docs[3] == "cross: travel across or pass over.\nThe animal didn't cross the street"
    assert docs[4] == "street fighter.\nonly an example"


def test_split_is_by_document_deduplicated_and_seeded():
    docs = [f"doc {i}" for i in range(200)] + ["doc 3", "doc 7"]
    a, b = split_documents(docs, seed=1), split_documents(list(docs), seed=1)
    assert a == b
    together = a.train + a.valid + a.test
    assert sorted(together) == sorted(set(docs)) and len(together) == 200
    assert len(a.valid) == len(a.test) == 4
    c = split_documents(docs, seed=2)
    assert c.test != a.test
    assert c.sha256() == a.sha256()  # the hash is of the cleaned text, not of the split


def test_windows():
    stream = torch.arange(23)
    w = et.causal_windows(stream, 5)  # (4, 6): overlapping by one token, so every target is predicted once
    assert w.shape == (4, 6)
    assert torch.equal(w[1], torch.arange(5, 11))
    e = et.encoder_windows(stream, 5, cls_id=99)  # [CLS] + 4 tokens
    assert e.shape == (5, 5) and (e[:, 0] == 99).all()
    assert torch.equal(e[:, 1:].flatten(), torch.arange(20))


def test_masking_follows_80_10_10_and_never_touches_special_tokens():
    g = torch.Generator().manual_seed(0)
    windows = torch.randint(0, 90, (400, 64), generator=g)
    windows[:, 0] = 95  # a special token in every row
    inputs, targets = et.mask_tokens(windows, mask_id=99, special_ids=[95, 99], n_ordinary=90, generator=g)
    chosen = targets != et.IGNORE
    assert not chosen[:, 0].any() and torch.equal(inputs[:, 0], windows[:, 0])
    assert torch.equal(targets[chosen], windows[chosen])
    assert torch.equal(inputs[~chosen], windows[~chosen])  # what is not chosen is left alone
    n = int(chosen.sum())
    rate = n / (400 * 63)
    assert abs(rate - 0.15) < 0.01
    as_mask = float((inputs[chosen] == 99).sum()) / n
    changed = float(((inputs != windows) & (inputs != 99) & chosen).sum()) / n
    assert abs(as_mask - 0.8) < 0.02
    assert abs(changed - 0.1 * (1 - 1 / 90)) < 0.02  # a random token equal to the original leaves it unchanged
    assert int(inputs[chosen].max()) < 90 or int(inputs[chosen].max()) == 99


def _bigram_ce_by_hand(train: list[int], pairs: list[tuple[int, int]], k: float, V: int) -> float:
    big = Counter(zip(train, train[1:], strict=False))
    row = Counter(train[:-1])
    return -sum(math.log((big[(a, b)] + k) / (row[a] + k * V)) for a, b in pairs) / len(pairs)


def test_count_baselines_equal_a_hand_count():
    g = torch.Generator().manual_seed(3)
    V = 12
    train = torch.randint(0, V, (500,), generator=g)
    valid = torch.randint(0, V, (80, 2), generator=g)
    test = torch.randint(0, V, (90, 2), generator=g)
    got = et.unigram_bigram_cross_entropy(train, valid, test, V, ks=(0.1, 1.0))
    tl = train.tolist()
    by_hand = {k: _bigram_ce_by_hand(tl, [tuple(p) for p in valid.tolist()], k, V) for k in (0.1, 1.0)}
    k = min(by_hand, key=by_hand.get)
    assert got["bigram_k"] == k
    assert got["bigram"] == pytest.approx(_bigram_ce_by_hand(tl, [tuple(p) for p in test.tolist()], k, V), rel=1e-12)
    uni = Counter(tl)
    expected = -sum(math.log((uni[b] + 1) / (len(tl) + V)) for _, b in test.tolist()) / len(test)
    assert got["unigram"] == pytest.approx(expected, rel=1e-12)
    table = et.bigram_table(train, V)
    assert et.bigram_cross_entropy_from_table(table, test, k) == pytest.approx(got["bigram"], rel=1e-12)


def test_most_frequent_token_baseline():
    train = torch.tensor([5, 5, 5, 2, 2, 7, 1, 1, 1, 1, 9])  # 1 is a special token: never predicted
    targets = torch.tensor([[5, et.IGNORE, 2, 1], [3, 5, et.IGNORE, 9]])
    got = et.frequent_token_accuracy(train, targets, special_ids=[1])
    assert got["top1"] == pytest.approx(2 / 6)  # always 5
    assert got["top5"] == pytest.approx(5 / 6)  # 5, 2, 7, 9, then a zero-count token; 3 is not among them
