"""Beyond-accuracy metrics against values computed by hand."""

import math

import numpy as np
import pytest
import torch

from recbench.evaluation import beyond
from recbench.evaluation.segments import item_segments

# Four items with training popularity 6, 3, 1, 0 among n_users = 8 users (10 interactions).
COUNTS = torch.tensor([6.0, 3.0, 1.0, 0.0])
N_USERS = 8


def test_f1_is_the_harmonic_mean_and_zero_without_hits():
    out = beyond.f1(torch.tensor([0.2, 0.0, 0.5]), torch.tensor([0.5, 0.0, 0.5]))
    assert out.tolist() == pytest.approx([2 * 0.2 * 0.5 / 0.7, 0.0, 0.5])


def test_novelty_is_mean_self_information():
    info = beyond.self_information(COUNTS, N_USERS)
    # p = 6/8, 3/8, 1/8 and (cold item counted once) 1/8
    assert info.tolist() == pytest.approx([-math.log2(0.75), -math.log2(0.375), 3.0, 3.0])
    top = torch.tensor([[0, 2], [1, 3]])
    assert beyond.list_mean(top, info).tolist() == pytest.approx(
        [(-math.log2(0.75) + 3) / 2, (-math.log2(0.375) + 3) / 2])


def test_head_holds_the_first_twenty_percent_of_interactions():
    head = lambda counts: item_segments(np.array(counts), 0.2)["head"].tolist()  # noqa: E731
    # Item 0 alone holds 60% >= 20%: it is the head; the rest is the tail.
    assert head([6, 3, 1, 0]) == [True, False, False, False]
    # 10 items of 10 interactions each: the head is the first 2 (by index on ties) = 20%.
    assert head([10] * 10) == [True, True] + [False] * 8
    # The item taking the cumulative share past 20% is head, the next one is not.
    assert head([5, 30, 25, 40]) == [False, False, False, True]


def test_arp_and_aplt():
    top = torch.tensor([[0, 1], [2, 3]])
    assert beyond.list_mean(top, COUNTS).tolist() == pytest.approx([4.5, 0.5])
    tail = torch.from_numpy(~item_segments(COUNTS.numpy(), 0.2)["head"]).float()
    assert beyond.list_mean(top, tail).tolist() == pytest.approx([0.5, 1.0])


def test_popularity_lift_over_the_history():
    top = torch.tensor([[0, 1], [2, 3], [0, 1]])
    history = torch.tensor([[0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    lift = beyond.popularity_lift(top, beyond.history_popularity(history, COUNTS), COUNTS)
    # user 0: list 4.5 vs history 1 -> 3.5; user 1: list 0.5 vs history 4.5 -> -8/9; user 2: no history.
    assert lift[:2].tolist() == pytest.approx([3.5, (0.5 - 4.5) / 4.5])
    assert math.isnan(lift[2])


def test_gini_and_entropy_of_exposure():
    top = torch.tensor([[0, 1], [0, 2], [0, 1]])
    counts = beyond.exposure(top, 4)
    assert counts.tolist() == [3.0, 2.0, 1.0, 0.0]
    # sorted 0, 1, 2, 3; n = 4, sum 6: sum (2j - 5) c_j = -3*0 - 1*1 + 1*2 + 3*3 = 10 -> 10 / 24
    assert beyond.gini(counts) == pytest.approx(10 / 24)
    p = np.array([3, 2, 1]) / 6
    assert beyond.entropy(counts) == pytest.approx(float(-(p * np.log(p)).sum()))
    assert beyond.gini(torch.ones(5)) == pytest.approx(0.0)
    assert beyond.entropy(torch.ones(5)) == pytest.approx(math.log(5))
    assert beyond.gini(torch.tensor([0.0, 0.0, 0.0, 4.0])) == pytest.approx(3 / 4)


def test_intra_list_diversity_against_pairwise_cosines():
    features = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    unit = beyond.unit_rows(features)
    top = torch.tensor([[0, 1, 2], [0, 1, 3], [0, 1, 0]])
    cos01 = 1 / math.sqrt(2)
    # user 0: pairs (0,1) 0.707, (0,2) 0, (1,2) 0; user 1: item 3 has no features -> 0 with both
    expected = [1 - cos01 / 3, 1 - cos01 / 3, 1 - (cos01 + 1 + cos01) / 3]
    assert beyond.intra_list_diversity(top, unit).tolist() == pytest.approx(expected)
    rng = np.random.default_rng(0)
    f = rng.random((7, 4))
    t = rng.integers(0, 7, size=(5, 4))
    f_unit = f / np.linalg.norm(f, axis=1, keepdims=True)
    brute = [1 - np.mean([f_unit[a] @ f_unit[b] for i, a in enumerate(row) for j, b in enumerate(row) if i != j])
             for row in t]
    got = beyond.intra_list_diversity(torch.from_numpy(t), beyond.unit_rows(torch.from_numpy(f)))
    assert got.tolist() == pytest.approx(brute, abs=1e-6)


def test_calibration_kl_by_hand():
    # Genres (A, B): item 0 = A, item 1 = B, item 2 = A and B, item 3 = none.
    genres = beyond.genre_distribution(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
    assert genres.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 0.0]]
    history = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=torch.float32)
    top = torch.tensor([[1, 3], [0, 1], [2, 0]])
    kl = beyond.calibration_kl(top, history, genres, alpha=0.01)
    # user 0: p = (0.75, 0.25); q = (0, 0.5) (item 3 adds no genre mass); q~ = .99 q + .01 p
    p, q = np.array([0.75, 0.25]), np.array([0.0, 0.5])
    qs = 0.99 * q + 0.01 * p
    assert kl[0].item() == pytest.approx(float((p * np.log(p / qs)).sum()), rel=1e-5)
    assert math.isnan(kl[1])  # the history has no item with genres
    # user 2: p = (0.5, 0.5), q = (0.75, 0.25)
    p, q = np.array([0.5, 0.5]), np.array([0.75, 0.25])
    qs = 0.99 * q + 0.01 * p
    assert kl[2].item() == pytest.approx(float((p * np.log(p / qs)).sum()), rel=1e-5)
    # A perfectly calibrated list has zero divergence.
    assert beyond.calibration_kl(torch.tensor([[0, 1]]), torch.tensor([[1.0, 1.0, 0, 0]]), genres).item() == \
        pytest.approx(0.0, abs=1e-7)
