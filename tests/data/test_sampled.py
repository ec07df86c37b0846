"""Sampled evaluation: the negatives drawn, the metrics they give, and how results record it."""

from __future__ import annotations

import numpy as np
import torch

from recbench.evaluation.evaluator import RankingAccumulator
from recbench.evaluation.ranking import as_index
from recbench.evaluation.sampled import SampledNegatives
from recbench.experiment import train
from tests.helpers import compose_config


def reference_keys(user: int, n_items: int, seed: int) -> np.ndarray:
    """splitmix64 finaliser in numpy uint64 (an independent implementation of the hash)."""
    def mix(x):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
    with np.errstate(over="ignore"):
        x = np.uint64(user) * np.uint64(n_items) + np.arange(n_items, dtype=np.uint64)
        return (mix(mix(x) + np.uint64(seed))).view(np.int64)


def reference_negatives(user: int, excluded: np.ndarray, n: int, seed: int) -> set[int]:
    keys = reference_keys(user, len(excluded), seed)
    allowed = np.flatnonzero(~excluded)
    return set(allowed[np.argsort(keys[allowed], kind="stable")[:n]].tolist())


def test_negatives_match_the_reference_and_ignore_batch_composition():
    n_items, seed = 40, 7
    rng = np.random.default_rng(0)
    excluded = torch.from_numpy(rng.random((4, n_items)) < 0.3)
    excluded[3, :35], excluded[3, 35:] = True, False  # only 5 items left for this user: fewer negatives than asked for
    users = torch.tensor([3, 11, 5, 2])
    sampler = SampledNegatives(10, seed)
    chosen = sampler.negatives(users, excluded)
    for row, user in enumerate(users.tolist()):
        drawn = set(torch.nonzero(chosen[row]).view(-1).tolist())
        assert drawn == reference_negatives(user, excluded[row].numpy(), 10, seed)
        assert not (drawn & set(torch.nonzero(excluded[row]).view(-1).tolist()))
    assert chosen.sum(dim=1).tolist() == [10, 10, 10, 5]
    alone = sampler.negatives(users[1:2], excluded[1:2])
    assert torch.equal(alone[0], chosen[1])  # a user's negatives do not depend on the batch


def test_metrics_rank_targets_among_the_sampled_items_only():
    n_items, seed = 30, 1
    user = torch.tensor([4])
    history = torch.zeros(1, n_items)
    history[0, 0] = 1
    target = torch.zeros(1, n_items)
    target[0, 29] = 1
    scores = torch.arange(n_items, 0, -1, dtype=torch.float32)[None, :]  # item 0 best, item 29 worst...
    scores[0, 29] = 25.5  # ...except the target, which beats items 5.. onwards
    excluded = (history + target)[0].numpy() > 0
    negatives = reference_negatives(4, excluded, 6, seed)
    rank = sum(1 for item in negatives if scores[0, item] > 25.5)  # negatives scored above the target
    accumulator = RankingAccumulator([1, 3, 7], n_items, sampler=SampledNegatives(6, seed))
    accumulator.add(user, scores, as_index(history), as_index(target))
    result = accumulator.gather()
    for k in (1, 3, 7):
        assert result.per_user[f"hitrate@{k}"][0] == float(rank < k)
        assert np.isclose(result.per_user[f"ndcg@{k}"][0], 1 / np.log2(rank + 2) if rank < k else 0.0)


def test_results_record_the_protocol_and_sampling_only_helps(tmp_path):
    full = train(compose_config(["model=pop", "split=leave_one_out", f"paths.cache_dir={tmp_path}/c"],
                                tmp_path / "full"))
    sampled = train(compose_config(["model=pop", "split=leave_one_out", f"paths.cache_dir={tmp_path}/c",
                                    "evaluation.sampled_negatives=20"], tmp_path / "sampled"))
    assert full.evaluation == {"protocol": "full_ranking"}
    record = sampled.evaluation
    assert record["protocol"] == "sampled" and record["sampled_negatives"] == 20
    assert "Krichene" in record["warning"] and "reorder models" in record["warning"]
    # The target competes with 20 items instead of all of them, so it can only rank higher.
    assert sampled.metrics["test/hitrate@10"] >= full.metrics["test/hitrate@10"]
    assert sampled.metrics["test/hitrate@10"] > full.metrics["test/hitrate@10"] + 0.1
