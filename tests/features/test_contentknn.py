"""ContentKNN against a numpy reference, on sparse (tag-like) and dense (embedding) features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from plugins.contentknn import ContentKNN
from recbench.plugin import FeatureTensors


def reference_scores(features: np.ndarray, history: np.ndarray, k: int, shrink: float) -> np.ndarray:
    """score(u, i) = sum over the k most cosine-similar other items j of sim(i, j) * history[u, j]."""
    norms = np.linalg.norm(features, axis=1)
    sims = features @ features.T / (np.outer(norms, norms) + shrink + 1e-9)
    np.fill_diagonal(sims, -np.inf)
    weights = np.zeros_like(sims)
    for i, row in enumerate(sims):
        top = np.argsort(-row, kind="stable")[:k]
        weights[i, top] = row[top]
    return history @ weights.T


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("shrink", [0.0, 5.0])
def test_scores_match_the_reference(kind, shrink):
    rng = np.random.default_rng(0)
    n_items, dim = 60, 16
    if kind == "sparse":
        # under 10% non-zero: the CSR path; continuous weights, so no two similarities tie
        features = ((rng.random((n_items, dim)) < 0.08) * rng.random((n_items, dim))).astype(np.float32)
    else:
        features = rng.normal(size=(n_items, dim)).astype(np.float32)  # dense: the dense path
    history = (rng.random((5, n_items)) < 0.2).astype(np.float32)
    model = ContentKNN(5, n_items, FeatureTensors(torch.from_numpy(features), torch.ones(n_items, dtype=torch.bool)),
                       k=7, shrink=shrink)
    model.fit(sp.csr_matrix(history))
    scores = model.score(torch.arange(5), torch.from_numpy(history)).numpy()
    np.testing.assert_allclose(scores, reference_scores(features, history, 7, shrink), rtol=1e-4, atol=1e-5)


def test_a_cold_item_is_scored_from_the_items_it_resembles():
    features = np.array([[1, 0, 0], [1, 0.1, 0], [0, 0, 1], [0, 0.1, 1]], dtype=np.float32)
    model = ContentKNN(1, 4, FeatureTensors(torch.from_numpy(features), torch.ones(4, dtype=torch.bool)), k=1)
    model.fit(sp.csr_matrix((1, 4), dtype=np.float32))  # no training interaction at all
    history = torch.tensor([[1.0, 0, 0, 0]])  # the user liked item 0
    scores = model.score(torch.tensor([0]), history)[0]
    assert scores[1] > 0.99 and scores[3] == 0  # item 1 looks like item 0, item 3 does not
