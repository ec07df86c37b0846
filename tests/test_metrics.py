"""Ranking metrics against values computed by hand."""

import math

import pytest
import torch

from recbench.evaluation.evaluator import RankingAccumulator
from recbench.evaluation.ranking import as_index, top_k


def metrics_of(scores, target, ks, history=None):
    scores = torch.tensor(scores, dtype=torch.float32)
    target = torch.tensor(target, dtype=torch.float32)
    history = torch.zeros_like(scores) if history is None else torch.tensor(history, dtype=torch.float32)
    accumulator = RankingAccumulator(ks, scores.shape[1])
    accumulator.add(torch.arange(len(scores)), scores, as_index(history), as_index(target))
    result = accumulator.gather()
    return {name: values.tolist() for name, values in result.per_user.items()}, result.coverage


def test_one_user_by_hand():
    # Ranking: items 0..5 in order; held-out items 1 and 4 (ranks 2 and 5).
    per_user, _ = metrics_of([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]], [[0, 1, 0, 0, 1, 0]], [3])
    idcg = 1 + 1 / math.log2(3)
    assert per_user["precision@3"] == pytest.approx([1 / 3])
    assert per_user["recall@3"] == pytest.approx([1 / 2])
    assert per_user["recall_all@3"] == pytest.approx([1 / 2])
    assert per_user["hitrate@3"] == [1.0]
    assert per_user["ndcg@3"] == pytest.approx([(1 / math.log2(3)) / idcg])
    assert per_user["mrr@3"] == pytest.approx([1 / 2])
    assert per_user["map@3"] == pytest.approx([(1 / 2) / 2])


def test_ties_are_broken_by_lower_item_index():
    # Items 0, 1, 2 tie; the held-out item 2 comes third, whatever topk's internal order.
    per_user, _ = metrics_of([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]], [[0, 0, 1, 0, 0, 0]], [2, 3])
    assert per_user["hitrate@2"] == [0.0]
    assert per_user["ndcg@3"] == pytest.approx([1 / math.log2(4)])
    assert per_user["mrr@3"] == pytest.approx([1 / 3])
    assert top_k(torch.tensor([[0.0, 2.0, 2.0, 2.0, 1.0]]), 3).tolist() == [[1, 2, 3]]
    assert top_k(torch.tensor([[5.0, 1.0, 1.0, 1.0, 1.0]]), 3).tolist() == [[0, 1, 2]]


def test_fewer_test_items_than_k_and_more():
    # User 0: 1 held-out item ranked first -> perfect at any K.
    # User 1: 4 held-out items at ranks 1-2 of a K=2 list -> recall@2 = 2/min(2, 4) = 1.
    scores = [[6, 5, 4, 3, 2, 1], [6, 5, 4, 3, 2, 1]]
    target = [[1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]]
    per_user, coverage = metrics_of(scores, target, [2, 5])
    assert per_user["recall@5"][0] == 1.0 and per_user["ndcg@5"][0] == pytest.approx(1.0)
    assert per_user["precision@5"][0] == pytest.approx(1 / 5)
    assert per_user["recall@2"][1] == 1.0
    assert per_user["recall_all@2"][1] == pytest.approx(0.5)
    assert per_user["ndcg@2"][1] == pytest.approx(1.0)
    assert per_user["map@2"][1] == pytest.approx(1.0)
    # 4 of 4 held-out in the top 5: DCG over ranks 1-4 equals the ideal DCG for min(5, 4) = 4 items.
    assert per_user["ndcg@5"][1] == pytest.approx(1.0)
    assert per_user["recall@5"][1] == 1.0
    assert coverage == {"coverage@2": pytest.approx(2 / 6), "coverage@5": pytest.approx(5 / 6)}


def test_known_items_are_never_recommended():
    # The highest-scored items are in the history, so the list starts after them.
    per_user, _ = metrics_of([[9, 8, 1, 0.5]], [[0, 0, 0, 1]], [1], history=[[1, 1, 0, 0]])
    assert per_user["hitrate@1"] == [0.0]  # item 2 is first once 0 and 1 are masked
    per_user, _ = metrics_of([[9, 8, 1, 0.5]], [[0, 0, 1, 0]], [1], history=[[1, 1, 0, 0]])
    assert per_user["hitrate@1"] == [1.0]


def test_non_finite_scores_are_reported():
    from recbench.errors import RecbenchError

    with pytest.raises(RecbenchError, match="NaN or infinite"):
        metrics_of([[float("nan"), 1.0, 0.0]], [[0, 1, 0]], [1])


def test_wrong_score_shape_is_reported():
    from recbench.errors import RecbenchError

    accumulator = RankingAccumulator([1], 3)
    with pytest.raises(RecbenchError, match="users x items"):
        accumulator.add(torch.arange(1), torch.zeros(1, 2), as_index(torch.zeros(1, 3)),
                        as_index(torch.ones(1, 3)))
