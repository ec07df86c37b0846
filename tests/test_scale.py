"""The pieces that make large data cheap, each against a dense or numpy reference."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recbench.data.synthetic import generate_synthetic
from recbench.evaluation.evaluator import EvaluationBatches, csr_rows, dense_rows
from recbench.evaluation.ranking import as_index, densify, hits_at, mask_known, top_k, top_k_exact


def random_csr(n_rows: int, n_cols: int, density: float, seed: int) -> sp.csr_matrix:
    matrix = sp.random(n_rows, n_cols, density=density, random_state=seed, format="csr", dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


def test_csr_rows_are_the_nonzeros_of_the_dense_rows():
    matrix = random_csr(30, 17, 0.2, seed=0)
    rows = np.array([3, 0, 29, 7, 7, 12])  # any order, repeats allowed
    pairs = csr_rows(matrix, rows)
    expected = dense_rows(matrix, rows)
    assert torch.equal(densify(pairs, len(rows), 17), expected)
    assert torch.equal(pairs, as_index(expected))  # row-major order, as nonzero() gives


def test_evaluation_batches_hold_history_and_target_pairs_of_their_users():
    history, target = random_csr(40, 12, 0.3, seed=1), random_csr(40, 12, 0.1, seed=2)
    for batch in EvaluationBatches(history, target, batch_size=7):
        users = batch["users"].numpy()
        assert (target[users].getnnz(axis=1) > 0).all()  # only users with a target
        assert torch.equal(densify(batch["history"], len(users), 12), dense_rows(history, users))
        assert torch.equal(densify(batch["target"], len(users), 12), dense_rows(target, users))


def reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Best first, ties by the lower index: a lexicographic sort per row."""
    return np.stack([np.lexsort((np.arange(len(row)), -row))[:k] for row in scores])


def test_top_k_breaks_ties_by_index_with_and_without_the_exact_path():
    generator = torch.Generator().manual_seed(0)
    ties = torch.randint(0, 4, (50, 30), generator=generator).float()  # heavy ties: exact path
    ties[:, 5] = float("-inf")
    distinct = torch.randn(50, 30, generator=generator)  # no ties: the fast path alone
    mixed = torch.cat([ties, distinct])
    for scores in (ties, distinct, mixed):
        for k in (1, 5, 29, 30):
            expected = reference_top_k(scores.numpy(), k)
            np.testing.assert_array_equal(top_k(scores, k).numpy(), expected)
            np.testing.assert_array_equal(top_k_exact(scores, k).numpy(), expected)


def test_masking_and_hits_from_pairs_equal_the_dense_computation():
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(6, 20, generator=generator)
    history = (torch.rand(6, 20, generator=generator) < 0.3).float()
    target = (torch.rand(6, 20, generator=generator) < 0.3).float() * (1 - history)
    masked = mask_known(scores.clone(), as_index(history))
    assert torch.equal(masked, scores.masked_fill(history > 0, float("-inf")))
    top = top_k(masked, 8)
    assert torch.equal(hits_at(top, as_index(target), 20), target.gather(1, top))


def test_synthetic_data_costs_its_interactions_not_users_times_items():
    # 10,000 x 50,000 is 4 GB as a dense float64 array; the sparse generator stays far below.
    tracemalloc.start()
    frame, items = generate_synthetic(n_users=10_000, n_items=50_000, mean_interactions=4.0,
                                      min_interactions=2, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 300 * 2 ** 20
    per_user = frame.groupby("user", observed=True).size()
    assert len(per_user) == 10_000 and per_user.min() >= 2
    assert not frame.duplicated(["user", "item"]).any()
    popularity = frame["item"].value_counts().to_numpy()
    assert popularity[:5000].sum() > 0.3 * len(frame)  # a long tail: 10% of items, a third of the use
    assert len(items) == 50_000


def test_synthetic_users_concentrate_on_their_preferred_categories():
    frame, items = generate_synthetic(n_users=300, n_items=400, mean_interactions=30.0, seed=2)
    category = items["category"].reindex(frame["item"].astype(str)).to_numpy()
    counts = pd.crosstab(frame["user"].astype(str).to_numpy(), category).to_numpy()  # [users, categories]
    top_share = (counts.max(axis=1) / counts.sum(axis=1)).mean()
    assert top_share > 0.3  # a user's top category; about 0.1 plus noise for uniform picks
