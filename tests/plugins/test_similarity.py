"""Each neighbourhood similarity against a pair-by-pair dense reference on a small matrix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recbench.errors import RecbenchError
from recbench.linalg.similarity import SIMILARITIES, Similarity, top_k_neighbours
from recbench.linalg.sparse import history_times_dense, history_times_sparse


def small_binary(seed: int = 0) -> np.ndarray:
    """12 vectors over 9 features, with one all-zero vector and one all-zero feature."""
    matrix = (np.random.default_rng(seed).random((12, 9)) < 0.4).astype(np.float64)
    matrix[3] = 0
    matrix[:, 5] = 0
    return matrix


def reference(a: np.ndarray, b: np.ndarray, kind: str, shrink: float, normalize: bool,
              alpha: float, beta: float) -> float:
    """The textbook definition for one pair, 0 when the denominator is 0."""
    if kind == "pearson":
        a, b = a - a.mean(), b - b.mean()
    dot = float(a @ b)
    if kind in ("cosine", "pearson") and not normalize:
        return dot
    if kind in ("cosine", "pearson"):
        denominator = np.linalg.norm(a) * np.linalg.norm(b)
    elif kind == "asymmetric":
        if not normalize:
            return dot
        denominator = np.linalg.norm(a) ** (2 * alpha) * np.linalg.norm(b) ** (2 * (1 - alpha))
    elif kind == "jaccard":
        denominator = float(np.logical_or(a > 0, b > 0).sum())  # |a u b|
    else:  # tversky: |a n b| / (|a n b| + alpha |a - b| + beta |b - a|)
        only_a, only_b = float(((a > 0) & (b == 0)).sum()), float(((b > 0) & (a == 0)).sum())
        denominator = dot + alpha * only_a + beta * only_b
    denominator += shrink
    return dot / denominator if denominator > 0 else 0.0


def dense_reference(matrix: np.ndarray, similarity: Similarity) -> np.ndarray:
    n = len(matrix)
    return np.array([[reference(matrix[r], matrix[c], similarity.kind, similarity.shrink, similarity.normalize,
                                similarity.alpha, similarity.beta) for c in range(n)] for r in range(n)])


def computed(matrix: np.ndarray, similarity: Similarity) -> np.ndarray:
    tensor = torch.from_numpy(matrix).float()
    stats = (tensor.sum(1), tensor.square().sum(1))
    return similarity(tensor @ tensor.T, stats, stats, matrix.shape[1]).double().numpy()


CASES = [Similarity(kind, shrink, normalize, alpha, beta)
         for kind in SIMILARITIES for shrink in (0.0, 3.0) for normalize in (True, False)
         for alpha, beta in ((0.5, 1.0), (0.2, 0.7))]


@pytest.mark.parametrize("similarity", CASES, ids=repr)
def test_similarity_equals_dense_reference(similarity):
    matrix = small_binary()
    np.testing.assert_allclose(computed(matrix, similarity), dense_reference(matrix, similarity),
                               rtol=1e-5, atol=1e-6)


def test_asymmetric_with_half_alpha_is_cosine_and_tversky_with_ones_is_jaccard():
    matrix = small_binary(1)
    np.testing.assert_allclose(computed(matrix, Similarity("asymmetric", alpha=0.5)),
                               computed(matrix, Similarity("cosine")), rtol=1e-6)
    np.testing.assert_allclose(computed(matrix, Similarity("tversky", alpha=1.0, beta=1.0)),
                               computed(matrix, Similarity("jaccard")), rtol=1e-6)


@pytest.mark.parametrize("kind", SIMILARITIES)
def test_top_k_neighbours_in_blocks_are_the_k_most_similar_others(kind):
    matrix = small_binary(2)
    similarity = Similarity(kind, shrink=1.0, alpha=0.3, beta=0.6)
    expected = dense_reference(matrix, similarity)
    np.fill_diagonal(expected, -np.inf)
    indices, values = top_k_neighbours(sp.csr_matrix(matrix), similarity, k=4, block_size=5)
    assert indices.shape == values.shape == (12, 4)
    assert not (indices == torch.arange(12)[:, None]).any()  # never its own neighbour
    # Ties make the chosen indices ambiguous, the values are not.
    np.testing.assert_allclose(values.numpy(), -np.sort(-expected, axis=1)[:, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values.numpy(), np.take_along_axis(expected, indices.numpy(), 1),
                               rtol=1e-5, atol=1e-6)


def test_unknown_similarity_is_a_readable_error():
    with pytest.raises(RecbenchError, match="model.similarity must be one of"):
        Similarity("cosin")


@pytest.mark.parametrize("density", [0.02, 0.5])  # EASE: the sparse CPU path and the dense one
def test_history_products_equal_dense_products(density):
    # EASE, SLIM and ItemKNN score a sparse history through sparse products on CPU (EASE below a
    # density, the others through the scatter kernel at any): the scores must be the dense product's.
    rng = np.random.default_rng(0)
    history = torch.from_numpy((rng.random((37, 211)) < density).astype(np.float32))
    dense_weights = torch.from_numpy(rng.standard_normal((211, 211)).astype(np.float32))
    sparse_weights = sp.random(211, 211, density=0.05, format="csr", random_state=1, dtype=np.float32)
    as_torch = torch.sparse_csr_tensor(torch.from_numpy(sparse_weights.indptr.astype(np.int64)),
                                       torch.from_numpy(sparse_weights.indices.astype(np.int64)),
                                       torch.from_numpy(sparse_weights.data), size=sparse_weights.shape)

    by_dense = history_times_dense(history, dense_weights)
    by_sparse = history_times_sparse(as_torch, history)

    np.testing.assert_allclose(by_dense.numpy(), history.numpy() @ dense_weights.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(by_sparse.numpy(), history.numpy() @ sparse_weights.toarray().T, rtol=1e-5, atol=1e-5)
    assert by_sparse.shape == by_dense.shape == (37, 211)
