"""Evaluation on sparse batches: top-K lists, masking, hits, segments and beyond-accuracy metrics
against a per-user computation in plain Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recbench.data.sequences import PAD
from recbench.evaluation.beyond_metrics import BeyondAccuracy
from recbench.evaluation.evaluator import (
    EvaluationBatches,
    Evaluator,
    RankingAccumulator,
    model_input,
)
from recbench.evaluation.ranking import top_k, top_k_by_key
from recbench.evaluation.segments import SEGMENTS, item_segments, segment_masks


def reference_list(row: list[float], k: int) -> list[int]:
    """The best k items of one row: higher score first, then lower index (-0.0 equals 0.0)."""
    return sorted(range(len(row)), key=lambda item: (-row[item], item))[:k]


def tie_heavy_scores(seed: int, n_rows: int, n_items: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(-2, 3, (n_rows, n_items), generator=generator).float()
    scores[::3] = torch.randn(len(scores[::3]), n_items, generator=generator)  # some rows without ties
    scores[1::4] *= -1.0  # -0.0 beside 0.0
    return scores.masked_fill(torch.rand(n_rows, n_items, generator=generator) < 0.2, float("-inf"))


@pytest.mark.parametrize("seed", range(3))
def test_top_k_is_a_full_sort_by_score_then_index(seed):
    scores = tie_heavy_scores(seed, 30, 25)
    for k in (1, 4, 10, 24, 25):
        expected = [reference_list(row, k) for row in scores.tolist()]
        assert top_k(scores, k).tolist() == expected
        assert top_k_by_key(scores, k).tolist() == expected  # the path of GPUs, here on CPU


def random_csr(seed: int, n_users: int, n_items: int, density: float) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float32))


def test_batches_carry_sparse_rows_of_the_positive_entries():
    history, target = random_csr(0, 12, 9, 0.3), random_csr(1, 12, 9, 0.2)
    for rank, world_size in ((0, 1), (1, 3)):
        seen = []
        for batch in EvaluationBatches(history, target, 5, rank, world_size):
            users = batch["users"].numpy()
            assert batch["history"].is_sparse and batch["history"].shape == (len(users), 9)
            np.testing.assert_array_equal(model_input(batch).numpy(), history[users].toarray())
            np.testing.assert_array_equal(batch["target"].to_dense().numpy(), target[users].toarray())
            seen.extend(users.tolist())
        assert seen == np.flatnonzero(target.getnnz(axis=1))[rank::world_size].tolist()
    # Not canonical: item 1 stored twice (summed, as a dense read sums it) and an explicit zero at item 2.
    raw = sp.csr_matrix((np.array([1.0, 1.0, 0.0], dtype=np.float32), np.array([1, 1, 2]), np.array([0, 3])),
                        shape=(1, 3))
    batch = EvaluationBatches(raw, sp.csr_matrix(np.ones((1, 3), dtype=np.float32)), 4)[0]
    assert batch["history"].indices().tolist() == [[0], [1]]  # the stored zero is no interaction
    assert model_input(batch).tolist() == raw.toarray().tolist() == [[0.0, 2.0, 0.0]]


def test_batches_made_on_a_device_and_sequences_trimmed_per_batch():
    history, target = random_csr(6, 11, 8, 0.3), random_csr(7, 11, 8, 0.3)
    lengths = torch.arange(11) % 4  # histories of 0-3 items, the rest padding
    sequences = torch.where(torch.arange(5)[None, :] < lengths[:, None], torch.arange(11)[:, None] % 8, PAD)
    on_host = EvaluationBatches(history, target, 3, sequences=sequences)
    on_device = EvaluationBatches(history, target, 3, sequences=sequences, device=torch.device("cpu"))
    assert len(on_host) == len(on_device) == -(-len(on_host.users) // 3)
    for host, device in zip(on_host, on_device):
        users = host["users"]
        width = max(int(lengths[users].max()), 1)  # the longest history of the batch
        assert torch.equal(host["sequence"], sequences[users, :width])
        for name in ("users", "sequence"):
            assert torch.equal(host[name], device[name])
        for name in ("history", "target"):
            assert torch.equal(host[name].to_dense(), device[name].to_dense())


class TieScorer:
    """Integer scores that depend on the user: many ties, some of them at the cut-off."""

    def score(self, users: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        items = torch.arange(history.shape[1])
        return ((users[:, None] * 7 + items[None, :] * 3) % 5).float() + history  # [B, n_items]


def reference_metrics(scores, history, target, k, mask=None, candidates=None):
    """ndcg, recall, precision and mrr of one user in plain Python."""
    row = [(-math.inf if history[item] else value) for item, value in enumerate(scores)]
    if candidates is not None:
        row = [value if candidates[item] else -math.inf for item, value in enumerate(row)]
    listed = reference_list(row, k)
    relevant = {item for item, held in enumerate(target) if held and (mask is None or mask[item])}
    if not relevant:
        return None
    hits = [item in relevant for item in listed]
    dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    first = next((rank for rank, hit in enumerate(hits) if hit), None)
    return {"ndcg": dcg / ideal, "recall": sum(hits) / min(k, len(relevant)), "precision": sum(hits) / k,
            "mrr": 0.0 if first is None else 1 / (first + 1)}, listed


@pytest.mark.parametrize("with_candidates", [False, True])
def test_evaluation_matches_a_per_user_computation(with_candidates):
    n_users, n_items, ks = 40, 30, [3, 10]
    train = random_csr(2, n_users, n_items, 0.25)
    history, target = train, random_csr(3, n_users, n_items, 0.1)
    counts = np.asarray(train.sum(axis=0)).ravel()
    candidates = np.arange(n_items) % 3 != 0 if with_candidates else None
    accumulator = RankingAccumulator(
        ks, n_items, segments=segment_masks(counts, 0.2),
        candidates=None if candidates is None else torch.from_numpy(candidates),
        beyond=BeyondAccuracy(["f1", "novelty", "arp", "pop_lift"], train))
    model = TieScorer()
    for batch in EvaluationBatches(history, target, batch_size=7):
        accumulator.add(batch["users"], model.score(batch["users"], model_input(batch)), batch["history"], batch["target"])
    result = accumulator.gather()
    segments = item_segments(counts, 0.2)
    all_scores = model.score(torch.arange(n_users), torch.from_numpy(history.toarray())).tolist()
    dense_history, dense_target = history.toarray() > 0, target.toarray() > 0
    for position, user in enumerate(result.users):
        for k in ks:
            expected, listed = reference_metrics(all_scores[user], dense_history[user], dense_target[user], k,
                                                 candidates=candidates)
            for name, value in expected.items():
                assert result.per_user[f"{name}@{k}"][position] == pytest.approx(value, abs=1e-6), (user, name, k)
            for segment in SEGMENTS:
                got = result.per_user[f"{segment}/ndcg@{k}"][position]
                wanted = reference_metrics(all_scores[user], dense_history[user], dense_target[user], k,
                                           mask=segments[segment], candidates=candidates)
                assert math.isnan(got) if wanted is None else got == pytest.approx(wanted[0]["ndcg"], abs=1e-6)
            known = np.flatnonzero(dense_history[user])
            lift = (counts[listed].mean() - counts[known].mean()) / counts[known].mean()
            assert result.per_user[f"pop_lift@{k}"][position] == pytest.approx(lift, rel=1e-5)
            novelty = np.mean(-np.log2(np.maximum(counts[listed], 1) / n_users))
            assert result.per_user[f"novelty@{k}"][position] == pytest.approx(novelty, rel=1e-5)
            if with_candidates:
                overall, _ = reference_metrics(all_scores[user], dense_history[user], dense_target[user], k)
                assert result.per_user[f"all/ndcg@{k}"][position] == pytest.approx(overall["ndcg"], abs=1e-6)


def test_sparse_and_dense_batches_give_the_same_result():
    history, target = random_csr(4, 25, 20, 0.3), random_csr(5, 25, 20, 0.15)
    counts = np.asarray(history.sum(axis=0)).ravel()
    results = []
    for dense in (False, True):
        accumulator = Evaluator([2, 5], 6).accumulator(20, "test")
        accumulator.segments = segment_masks(counts, 0.2)
        accumulator.beyond = BeyondAccuracy(["pop_lift", "aplt"], history)
        for batch in EvaluationBatches(history, target, batch_size=6):
            rows = {name: batch[name].to_dense() if dense else batch[name] for name in ("history", "target")}
            accumulator.add(batch["users"], TieScorer().score(batch["users"], model_input(batch)), **rows)
        results.append(accumulator.gather())
    assert results[0].per_user.keys() == results[1].per_user.keys()
    for name, values in results[0].per_user.items():
        np.testing.assert_array_equal(values, results[1].per_user[name])


def test_scores_the_model_returned_are_left_as_they_were():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    before = scores.clone()
    accumulator = RankingAccumulator([2], 4)
    accumulator.add(torch.tensor([0]), scores, torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[0.0, 1, 0, 0]]))
    assert torch.equal(scores, before)
    assert accumulator.gather().per_user["mrr@2"].tolist() == [1.0]  # item 0 masked, item 1 first
