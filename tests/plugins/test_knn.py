"""ItemKNN and UserKNN scores against dense references built pair by pair."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from plugins.itemknn import ItemKNN
from plugins.userknn import UserKNN
from recbench.linalg.similarity import SIMILARITIES, Similarity
from tests.plugins.test_similarity import dense_reference, small_binary


@pytest.mark.parametrize("kind", SIMILARITIES)
def test_itemknn_with_all_neighbours_equals_dense_formula(kind):
    train = small_binary(3)  # 12 users x 9 items
    model = ItemKNN(12, 9, k=100, similarity=kind, shrink=2.0, alpha=0.3, beta=0.8)
    model.fit(sp.csr_matrix(train))
    sims = dense_reference(train.T, Similarity(kind, 2.0, True, 0.3, 0.8))  # [item, item]
    np.fill_diagonal(sims, 0.0)
    history = torch.from_numpy(small_binary(4)[:5]).float()
    expected = history.double().numpy() @ sims.T  # score(u, i) = sum_j sim(i, j) h[u, j]
    np.testing.assert_allclose(model.score(torch.arange(5), history).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_itemknn_keeps_only_k_neighbours():
    train = small_binary(5)
    model = ItemKNN(12, 9, k=2, similarity="cosine", shrink=0.0)
    model.fit(sp.csr_matrix(train))
    sims = dense_reference(train.T, Similarity("cosine"))
    kept = np.zeros_like(sims)
    rows = np.arange(9)[:, None]
    kept[rows, model.neighbours.numpy()] = sims[rows, model.neighbours.numpy()]
    np.fill_diagonal(sims, -np.inf)
    np.testing.assert_allclose(np.sort(kept, 1)[:, -2:], np.sort(sims, 1)[:, -2:], rtol=1e-5)
    history = torch.eye(9)
    np.testing.assert_allclose(model.score(torch.arange(9), history).numpy(), kept.T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", SIMILARITIES)
def test_userknn_with_all_neighbours_equals_dense_formula(kind):
    train = small_binary(6)  # 12 users x 9 items
    model = UserKNN(12, 9, k=100, similarity=kind, shrink=1.0, alpha=0.4, beta=0.9)
    model.fit(sp.csr_matrix(train))
    sims = dense_reference(train, Similarity(kind, 1.0, True, 0.4, 0.9))  # [user, user]
    np.fill_diagonal(sims, 0.0)  # a user is not their own neighbour
    expected = sims @ train  # score(u, i) = sum_v sim(u, v) train[v, i]
    scores = model.score(torch.arange(12), torch.from_numpy(train).float())
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_userknn_uses_the_k_most_similar_users_only():
    train = np.random.default_rng(7).random((10, 6))  # real-valued: no ties among similarities
    model = UserKNN(10, 6, k=3, similarity="cosine", shrink=0.0)
    model.fit(sp.csr_matrix(train))
    sims = dense_reference(train, Similarity("cosine"))
    np.fill_diagonal(sims, -np.inf)
    keep = np.argsort(-sims, axis=1)[:, :3]
    weights = np.zeros_like(sims)
    np.put_along_axis(weights, keep, np.take_along_axis(sims, keep, 1), 1)
    scores = model.score(torch.arange(10), torch.from_numpy(train).float())
    np.testing.assert_allclose(scores.numpy(), weights @ train, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["itemknn", "slim"])
def test_cached_transpose_follows_a_refit_and_a_loaded_checkpoint(name):
    # ItemKNN and SLIM keep their matrix's transpose between batches (TransposeCache); a refit or a
    # loaded checkpoint must be scored with the new matrix, never the cached one.
    from plugins.slim import SLIM

    def make():
        return ItemKNN(12, 9, k=3) if name == "itemknn" else SLIM(12, 9, alpha=0.01)

    first, second = sp.csr_matrix(small_binary(1)), sp.csr_matrix(small_binary(2))
    history = torch.from_numpy(small_binary(7)[:6]).float()
    fresh = make()
    fresh.fit(second)
    expected = fresh.score(torch.arange(6), history)

    model = make()
    model.fit(first)
    before = model.score(torch.arange(6), history)
    assert model._transposed(*_matrix_and_sources(model)) is model._transposed(*_matrix_and_sources(model))  # kept
    model.fit(second)
    assert not torch.equal(before, expected)  # the two fits differ, so a stale transpose would show
    assert torch.equal(model.score(torch.arange(6), history), expected)

    reloaded = make()
    reloaded.fit(first)
    reloaded.score(torch.arange(6), history)  # fills the cache from the first fit
    reloaded.load_state_dict(fresh.state_dict())
    assert torch.equal(reloaded.score(torch.arange(6), history), expected)


def _matrix_and_sources(model):
    from recbench.linalg.sparse import csr_tensor

    if isinstance(model, ItemKNN):
        n, k = model.neighbours.shape
        matrix = torch.sparse_csr_tensor(torch.arange(0, n * k + 1, k), model.neighbours.reshape(-1),
                                         model.weights.reshape(-1), size=(n, n))
        return matrix, (model.neighbours, model.weights)
    return (csr_tensor(model, "weights_t", model.n_items),
            (model.weights_t_crow, model.weights_t_col, model.weights_t_values))
