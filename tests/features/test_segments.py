"""Segment metrics and candidate restriction, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import torch

from recbench.evaluation.segments import SEGMENTS, item_segments, restrict, segment_metrics


def test_head_is_the_smallest_popular_set_reaching_the_share():
    counts = np.array([5, 0, 3, 1, 1])  # 10 training interactions
    segments = item_segments(counts, head_share=0.2)
    assert segments["head"].tolist() == [True, False, False, False, False]  # item 0 alone holds 50%
    assert segments["tail"].tolist() == [False, True, True, True, True]
    assert segments["warm"].tolist() == [True, False, True, True, True]
    assert segments["cold"].tolist() == [False, True, False, False, False]
    assert item_segments(counts, head_share=0.6)["head"].tolist() == [True, False, True, False, False]


def test_segment_metrics_count_only_the_segment_targets():
    top = torch.tensor([[2, 0, 1], [3, 4, 2]])  # ranked lists of two users
    target = torch.tensor([[1.0, 1, 0, 0, 0],   # user 0: item 0 (warm, head) at rank 2, item 1 (cold) at rank 3
                           [0.0, 0, 0, 0, 1]])  # user 1: item 4 (warm, tail) at rank 2
    counts = np.array([5, 0, 3, 1, 1])
    masks = torch.from_numpy(np.stack([item_segments(counts)[s] for s in SEGMENTS]))
    hits = target.gather(1, top) > 0  # [B, 3]
    names, values = segment_metrics(top, hits, target.nonzero().T, masks, [3])
    metric = {name: values[:, i] for i, name in enumerate(names)}
    rank2, rank3 = 1 / math.log2(3), 1 / math.log2(4)
    torch.testing.assert_close(metric["cold/ndcg@3"][0], torch.tensor(rank3))
    assert torch.isnan(metric["cold/ndcg@3"][1])  # user 1 has no cold target
    torch.testing.assert_close(metric["warm/ndcg@3"], torch.tensor([rank2, rank2]))
    torch.testing.assert_close(metric["head/recall@3"][0], torch.tensor(1.0))
    assert torch.isnan(metric["head/recall@3"][1])
    # tail of user 0 = the cold item 1, found at rank 3; of user 1 = item 4 at rank 2
    torch.testing.assert_close(metric["tail/ndcg@3"], torch.tensor([rank3, rank2]))


def test_restrict_keeps_only_the_candidates():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    restricted = restrict(scores, torch.tensor([False, True, False, True]))
    assert restricted.tolist() == [[-math.inf, 2.0, -math.inf, 0.0]]
    assert restrict(scores, None) is scores


def test_an_accumulator_without_users_has_every_column_in_order():
    """A DDP process whose shard is empty must gather as many columns as the others."""
    from recbench.evaluation.evaluator import RankingAccumulator

    n_items = 6
    segments = torch.from_numpy(np.stack([item_segments(np.array([3, 0, 1, 1, 0, 2]))[s] for s in SEGMENTS]))
    candidates = torch.tensor([False, True, False, False, True, False])
    busy = RankingAccumulator([2], n_items, candidates=candidates, segments=segments)
    busy.add(torch.tensor([0]), torch.rand(1, n_items), torch.zeros(1, n_items),
             torch.tensor([[0.0, 1, 0, 0, 0, 0]]))
    idle = RankingAccumulator([2], n_items, candidates=candidates, segments=segments)
    assert idle.metric_names() == busy.names
    assert list(idle.gather().per_user) == busy.names
