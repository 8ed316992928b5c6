"""Head-role scores: exact on hand-built maps, averaged as documented, and equal to a float64 recomputation written
out here with loops on a real model's maps."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from core.head_roles import (
    ROLES,
    HeadRoles,
    current_token_score,
    duplicate_token_score,
    first_token_score,
    induction_score,
    mean_entropy,
    previous_token_score,
    repeated_sequences,
    score_heads,
)
from core.models import DecoderConfig, DecoderOnlyModel

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

T = 6


def one_hot_rows(keys: list[int]) -> torch.Tensor:
    """(T, T) map whose row i puts weight 1 on key keys[i]."""
    w = torch.zeros(len(keys), len(keys), dtype=torch.float64)
    w[torch.arange(len(keys)), torch.tensor(keys)] = 1.0
    return w


def uniform_causal(t: int) -> torch.Tensor:
    """(t, t): row i spreads its weight evenly over keys 0 … i."""
    mask = torch.ones(t, t, dtype=torch.float64).tril()
    return mask / mask.sum(-1, keepdim=True)


def scalar(x: torch.Tensor) -> float:
    return float(x)


def test_previous_token_map_scores_one_on_previous_token():
    w = one_hot_rows([0] + list(range(T - 1)))  # row 0 can only see key 0; row i -> i-1
    assert scalar(previous_token_score(w)) == 1.0
    # row 0 is the only row on its own position (1/T); row 1's previous token is also the first token
    assert scalar(current_token_score(w)) == pytest.approx(1 / T)
    assert scalar(first_token_score(w)) == pytest.approx(1 / (T - 1))
    assert scalar(mean_entropy(w)) == 0.0


def test_non_causal_previous_token_map_scores_zero_current_token():
    w = one_hot_rows([1] + list(range(T - 1)))  # an encoder's row 0 may look right
    assert scalar(current_token_score(w)) == 0.0
    assert scalar(previous_token_score(w)) == 1.0


def test_first_token_map_scores_one_on_first_token_and_row_zero_is_left_out():
    w = one_hot_rows([0] * T)
    assert scalar(first_token_score(w)) == 1.0
    assert scalar(previous_token_score(w)) == pytest.approx(1 / (T - 1))  # only row 1's previous is key 0
    # an identity map's row 0 also sits on key 0, but first-token skips query 0: 0, not 1/T
    assert scalar(first_token_score(torch.eye(T, dtype=torch.float64))) == 0.0


def test_identity_map_is_current_token_with_zero_entropy():
    w = torch.eye(T, dtype=torch.float64)
    assert scalar(current_token_score(w)) == 1.0
    assert scalar(previous_token_score(w)) == 0.0
    assert scalar(mean_entropy(w)) == 0.0


def test_uniform_causal_map_entropy_is_mean_log_of_row_length():
    w = uniform_causal(T)
    assert scalar(mean_entropy(w)) == pytest.approx(sum(math.log(i + 1) for i in range(T)) / T, rel=1e-12)
    assert scalar(previous_token_score(w)) == pytest.approx(sum(1 / (i + 1) for i in range(1, T)) / (T - 1))
    assert scalar(first_token_score(w)) == pytest.approx(sum(1 / (i + 1) for i in range(1, T)) / (T - 1))


def test_scores_keep_the_layer_and_head_dimensions():
    w = torch.stack([torch.stack([torch.eye(T), one_hot_rows([0] * T).float()])] * 3)  # (3, 2, T, T)
    assert current_token_score(w).shape == (3, 2)
    assert_close(current_token_score(w)[:, 0], torch.ones(3))
    assert_close(first_token_score(w)[:, 1], torch.ones(3))


def test_duplicate_token_sums_over_earlier_copies_of_repeated_tokens_only():
    ids = torch.tensor([5, 7, 5, 5])
    w = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.6, 0.4, 0.0, 0.0],
            [0.25, 0.25, 0.5, 0.0],  # token 5 again: earlier copy at 0 -> 0.25
            [0.1, 0.3, 0.2, 0.4],  # token 5 again: earlier copies at 0 and 2 -> 0.3
        ],
        dtype=torch.float64,
    )
    assert scalar(duplicate_token_score(w, ids)) == pytest.approx((0.25 + 0.3) / 2)


def test_duplicate_token_is_nan_without_a_repeated_token():
    score = duplicate_token_score(uniform_causal(4).expand(2, 3, 4, 4), torch.tensor([1, 2, 3, 4]))
    assert score.shape == (2, 3)
    assert score.isnan().all()


def perfect_induction_map(ids: torch.Tensor) -> torch.Tensor:
    """(T, T): a query whose token occurred before attends to the token right after that earlier copy; any other
    query to itself. Targets found by searching the ids, independently of core.head_roles' index arithmetic."""
    keys = []
    for i, tok in enumerate(ids.tolist()):
        earlier = [j for j in range(i) if ids[j] == tok]
        keys.append(earlier[-1] + 1 if earlier else i)
    return one_hot_rows(keys)


@pytest.mark.parametrize("first_token", [None, 0])
def test_hand_built_induction_map_scores_one_and_a_duplicate_head_scores_zero(first_token):
    n = 5
    seq = repeated_sequences(range(1, 20), 1, n, seed=3, first_token=first_token)[0]
    prefix = 0 if first_token is None else 1
    assert scalar(induction_score(perfect_induction_map(seq), n, prefix)) == 1.0
    # one position early (the earlier copy itself, a duplicate-token head): no induction at all
    duplicate_keys = [i - n if i >= prefix + n else i for i in range(len(seq))]
    assert scalar(induction_score(one_hot_rows(duplicate_keys), n, prefix)) == 0.0


def test_induction_score_refuses_a_map_of_the_wrong_length():
    with pytest.raises(ValueError, match="positions"):
        induction_score(torch.eye(9), 4, prefix=0)


def test_repeated_sequences_are_deterministic_repeated_and_distinct():
    a = repeated_sequences(range(10, 30), 4, 6, seed=7, first_token=1)
    assert a.shape == (4, 13)
    assert torch.equal(a, repeated_sequences(range(10, 30), 4, 6, seed=7, first_token=1))
    assert not torch.equal(a, repeated_sequences(range(10, 30), 4, 6, seed=8, first_token=1))
    assert (a[:, 0] == 1).all()
    assert torch.equal(a[:, 1:7], a[:, 7:])
    for row in a[:, 1:7].tolist():
        assert len(set(row)) == 6 and all(10 <= t < 30 for t in row)
    assert torch.equal(
        repeated_sequences([3, 4, 5], 2, 3, seed=0)[:, :3].sort(-1).values, torch.tensor([[3, 4, 5]] * 2)
    )


def two_head_forward(ids: torch.Tensor) -> torch.Tensor:
    """(1, 2, T, T): head 0 uniform over the causal past, head 1 a perfect induction head."""
    t = ids.shape[1]
    return torch.stack([uniform_causal(t), perfect_induction_map(ids[0])])[None]


def test_score_heads_averages_duplicate_token_only_over_sentences_that_repeat_a_token():
    roles = score_heads(
        two_head_forward,
        [[1, 2, 1], [1, 2, 3, 4]],
        induction_vocab=range(5, 40),
        n_induction=3,
        induction_len=6,
        seed=0,
        first_token=0,
    )
    assert (roles.n_sentences, roles.n_duplicate_sentences, roles.n_induction) == (2, 1, 3)
    # duplicate-token: only [1, 2, 1] counts; its query 2 puts 1/3 (uniform) or 0 (key 2 after token 1) on key 0
    assert_close(roles.scores["duplicate-token"], torch.tensor([[1 / 3, 0.0]], dtype=torch.float64))
    prev_3, prev_4 = (1 / 2 + 1 / 3) / 2, (1 / 2 + 1 / 3 + 1 / 4) / 3
    assert roles.scores["previous-token"][0, 0].item() == pytest.approx((prev_3 + prev_4) / 2)
    entropy_3, entropy_4 = sum(map(math.log, (1, 2, 3))) / 3, sum(map(math.log, (1, 2, 3, 4))) / 4
    assert roles.entropy[0, 0].item() == pytest.approx((entropy_3 + entropy_4) / 2)
    assert roles.scores["induction"][0, 1].item() == 1.0


def test_score_heads_refuses_a_forward_that_returns_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(L, H, T, T\)"):
        score_heads(
            lambda ids: torch.eye(ids.shape[1]),
            [[1, 2]],
            induction_vocab=range(5),
            n_induction=1,
            induction_len=2,
            seed=0,
        )


def test_strongest_skips_nan_and_breaks_ties_in_role_order():
    scores = {
        "previous-token": torch.tensor([[0.9, 0.2]]),
        "first-token": torch.tensor([[0.1, 0.5]]),
        "current-token": torch.tensor([[0.0, 0.5]]),
        "duplicate-token": torch.tensor([[float("nan"), 0.1]]),
        "induction": torch.tensor([[0.3, 0.4]]),
    }
    roles = HeadRoles(scores, torch.tensor([[0.7, 1.5]]), n_sentences=2, n_duplicate_sentences=0, n_induction=1)
    best = roles.strongest()
    assert best[0][0][0] == "previous-token" and best[0][0][1] == pytest.approx(0.9)
    assert best[0][1][0] == "first-token" and best[0][1][1] == pytest.approx(0.5)  # tie with current-token
    rows = roles.as_rows()
    assert [(r["layer"], r["head"], r["strongest"]) for r in rows] == [(0, 0, "previous-token"), (0, 1, "first-token")]
    assert rows[1]["induction"] == pytest.approx(0.4) and rows[1]["entropy"] == pytest.approx(1.5)
    assert math.isnan(rows[0]["duplicate-token"])


def test_head_roles_refuses_missing_roles_and_mismatched_shapes():
    ok = {role: torch.zeros(2, 3) for role in ROLES}
    with pytest.raises(ValueError, match="roles"):
        HeadRoles({k: v for k, v in ok.items() if k != "induction"}, torch.zeros(2, 3), 1, 0, 1)
    with pytest.raises(ValueError, match="shape"):
        HeadRoles(ok, torch.zeros(3, 2), 1, 0, 1)


# --- a real model: the scores equal a float64 recomputation written out with loops -------------------------------


def loop_scores(w: torch.Tensor, ids: list[int]) -> dict[str, float]:
    """Every sentence role and the entropy of one (T, T) float64 map, by explicit loops over queries."""
    t = len(ids)
    on_copies = [sum(float(w[i, j]) for j in range(i) if ids[j] == ids[i]) for i in range(t) if ids[i] in ids[:i]]
    entropy = [-sum(float(p) * math.log(float(p)) for p in w[i] if p > 0) for i in range(t)]
    return {
        "previous-token": sum(float(w[i, i - 1]) for i in range(1, t)) / (t - 1),
        "first-token": sum(float(w[i, 0]) for i in range(1, t)) / (t - 1),
        "current-token": sum(float(w[i, i]) for i in range(t)) / t,
        "duplicate-token": sum(on_copies) / len(on_copies) if on_copies else math.nan,
        "entropy": sum(entropy) / t,
    }


def loop_induction(w: torch.Tensor, seq: list[int], n: int) -> float:
    """Copy-2 queries' weight on the position after the earlier occurrence of their token, found by search."""
    second = range(len(seq) - n, len(seq))
    return sum(float(w[q, next(j for j in range(q) if seq[j] == seq[q]) + 1]) for q in second) / n


def test_real_model_scores_equal_a_float64_loop_recomputation():
    model = DecoderOnlyModel(DecoderConfig(vocab_size=50, d_model=32, n_heads=4, n_layers=2, max_len=64)).eval()

    def forward(ids):
        return torch.stack([t.self_attn.weights[0] for t in model(ids, return_trace=True).trace])  # (L, H, T, T)

    gen = torch.Generator().manual_seed(1)
    sentences = [torch.randint(1, 50, (t,), generator=gen).tolist() for t in (7, 12, 5)]
    sentences.append([4, 9, 4, 9, 11])  # certainly repeats a token
    sentences.append([1, 2, 3])  # certainly repeats none
    kwargs = {"induction_vocab": range(1, 50), "n_induction": 3, "induction_len": 10, "seed": 5, "first_token": 0}
    roles = score_heads(forward, sentences, **kwargs)

    L, H = 2, 4
    assert roles.shape == (L, H) and all(s.shape == (L, H) for s in roles.scores.values())
    for role, s in roles.scores.items():
        assert ((s >= 0) & (s <= 1)).all(), role
    assert (roles.entropy >= 0).all() and (roles.entropy <= math.log(12)).all()

    def table(cells, name):  # [layer][head] dicts -> (L, H) float64
        return torch.tensor([[c[name] for c in row] for row in cells], dtype=torch.float64)

    per_sentence = []
    for ids in sentences:
        w = forward(torch.tensor([ids])).detach().double()  # (L, H, T, T)
        per_sentence.append([[loop_scores(w[la, h], ids) for h in range(H)] for la in range(L)])
    expected = {
        name: sum(table(c, name) for c in per_sentence) / len(sentences)
        for name in ("previous-token", "first-token", "current-token", "entropy")
    }
    with_dup = [table(c, "duplicate-token") for c in per_sentence if not math.isnan(c[0][0]["duplicate-token"])]
    expected["duplicate-token"] = sum(with_dup) / len(with_dup)
    induction = torch.zeros(L, H, dtype=torch.float64)
    for seq in repeated_sequences(kwargs["induction_vocab"], 3, 10, seed=5, first_token=0).tolist():
        w = forward(torch.tensor([seq])).detach().double()  # (L, H, T, T)
        cells = [[loop_induction(w[la, h], seq, 10) for h in range(H)] for la in range(L)]
        induction += torch.tensor(cells, dtype=torch.float64) / 3
    expected["induction"] = induction

    assert roles.n_duplicate_sentences == len(with_dup) >= 1
    for role in ROLES:
        assert_close(roles.scores[role], expected[role], msg=role)
    assert_close(roles.entropy, expected["entropy"])
