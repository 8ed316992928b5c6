"""Training and decoding figures carry exactly the numbers they are given, on the panels they name."""

from __future__ import annotations

from figures.training import kv_cache_figure, probability_bars, training_curves


def test_training_curves_put_loss_on_top_and_accuracies_below():
    fig = training_curves([0, 10, 20], [2.0, 1.0, 0.5], [0.1, 0.5, 0.9], [0.0, 0.2, 0.8],
                          eval_steps=[20], eval_exact_match=[0.75], total_steps=100)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["loss"].y) == [2.0, 1.0, 0.5] and by_name["loss"].yaxis == "y"
    assert list(by_name["token accuracy"].y) == [0.1, 0.5, 0.9] and by_name["token accuracy"].yaxis == "y2"
    assert list(by_name["exact match (held-out)"].x) == [20] and list(by_name["exact match (held-out)"].y) == [0.75]
    assert fig.layout.yaxis.type == "log"
    assert tuple(fig.layout.xaxis2.range) == (0, 100)
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1], "loss panel sits above the accuracy panel"
    assert [a.text for a in fig.layout.annotations] == ["cross-entropy loss (training batch)", "accuracy"]


def test_probability_bars_sort_descending_and_mark_the_chosen_token():
    fig = probability_bars(["a", "b", "c"], [0.2, 0.5, 0.3], model_probs=[0.3, 0.4, 0.3], chosen=2, top=2)
    sampled = fig.data[-1]
    assert list(sampled.x) == ["'b'", "'c'"] and list(sampled.y) == [0.5, 0.3]
    assert list(sampled.marker.color) == ["#1f77b4", "#ff7f0e"]
    assert list(fig.data[0].y) == [0.4, 0.3]


def test_kv_cache_figure_has_a_line_per_layer_and_times_in_ms():
    fig = kv_cache_figure([[64, 64], [128, 128], [192, 192]], {"with cache": 0.002, "without": 0.005})
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines] == ["layer 0 K+V", "layer 1 K+V"]
    assert list(lines[1].y) == [64, 128, 192]
    bars = fig.data[-1]
    assert list(bars.x) == ["with cache", "without"] and list(bars.y) == [2.0, 5.0] and bars.xaxis == "x2"
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]


def test_sampling_cut_figure_draws_the_cut_the_core_computed():
    import torch

    from core.generation import Sampling, next_token_probs
    from core.lab.sampling_cut import sampling_cut
    from figures.training import sampling_cut_figure

    logits = torch.log(torch.tensor([0.05, 0.4, 0.25, 0.15, 0.1, 0.05]))
    s = Sampling(1.0, top_k=4, top_p=0.7)
    cut = sampling_cut(logits, s, top=6)
    fig = sampling_cut_figure(cut, [f"t{i}" for i in cut.ids], chosen=2, top_k=4, top_p=0.7)
    before, after, model, cumulative = fig.data
    order = list(cut.ids)
    assert order == [1, 2, 3, 4, 0, 5] and list(before.x) == ["'t1'", "'t2'", "'t3'", "'t4'", "'t0'", "'t5'"]
    torch.testing.assert_close(torch.tensor(after.y), next_token_probs(logits, s)[order])
    torch.testing.assert_close(torch.tensor(before.y), torch.softmax(logits, -1)[order])
    torch.testing.assert_close(torch.tensor(cumulative.y), torch.softmax(logits, -1)[order].cumsum(0))
    # hatched (removed) exactly where next_token_probs gave 0: top-k = 4 removes t0 and t5; top-p = 0.7 keeps t3
    # (mass before it 0.65 < 0.7) and removes t4 (mass before it 0.8)
    removed = [p == 0 for p in after.y]
    assert removed == [False, False, False, True, True, True]
    assert list(before.marker.pattern.shape) == ["/" if r else "" for r in removed]
    assert list(before.customdata) == ["", "", "", "top-p", "top-k", "top-k"]
    assert list(after.marker.color).index("#ff7f0e") == 1, "the chosen token (id 2) is orange"
    assert [sh.y0 for sh in fig.layout.shapes if sh.xref == "paper"] == [0.7]
    assert [sh.x0 for sh in fig.layout.shapes if sh.yref == "paper"] == [3.5]
    greedy = sampling_cut_figure(sampling_cut(logits, Sampling(0.0)), [str(i) for i in order], top_p=1.0)
    assert not greedy.layout.shapes and list(greedy.data[1].y)[0] == 1.0
