"""EASE and PureSVD against direct numpy computations; SLIM against scikit-learn's ElasticNet."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import ElasticNet

from plugins.ease import EASE, gram_matrix, spd_inverse_in_place
from plugins.puresvd import PureSVD
from plugins.slim import SLIM, elastic_net_columns
from recbench.errors import RecbenchError


def random_binary(n_users: int, n_items: int, density: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n_users, n_items)) < density).astype(np.float64)


def test_ease_equals_steck_closed_form():
    train = random_binary(40, 15, 0.3, 0)
    model = EASE(40, 15, l2=7.0)
    model.fit(sp.csr_matrix(train))
    inverse = np.linalg.inv(train.T @ train + 7.0 * np.eye(15))
    expected = np.eye(15) - inverse / np.diag(inverse)  # B = I - P diagMat(1 / diag(P))
    np.testing.assert_allclose(model.weights.numpy(), expected, atol=1e-6)
    assert np.all(np.diag(model.weights.numpy()) == 0)
    history = torch.from_numpy(train[:4]).float()
    np.testing.assert_allclose(model.score(torch.arange(4), history).numpy(), train[:4] @ expected, atol=1e-5)


def test_ease_in_float32_is_the_closed_form_made_in_the_gram_matrix_memory():
    train = random_binary(60, 25, 0.3, 6)
    model = EASE(60, 25, l2=5.0, solve_dtype="float32")
    model.fit(sp.csr_matrix(train))
    inverse = np.linalg.inv(train.T @ train + 5.0 * np.eye(25))
    expected = np.eye(25) - inverse / np.diag(inverse)
    assert model.weights.dtype == torch.float32 and model.weights.is_contiguous()
    np.testing.assert_allclose(model.weights.numpy(), expected, atol=2e-6)  # float32 rounding, not float64's
    assert np.all(np.diag(model.weights.numpy()) == 0)
    reference = EASE(60, 25, l2=5.0)
    reference.fit(sp.csr_matrix(train))
    assert not np.array_equal(model.weights.numpy(), reference.weights.numpy())  # really solved in float32
    state = model.state_dict()  # the replaced buffer saves and loads like the one it replaced
    loaded = EASE(60, 25, l2=5.0, solve_dtype="float32")
    loaded.load_state_dict(state)
    assert torch.equal(loaded.weights, model.weights)
    assert EASE(60, 25).weights.numel() == 0  # no n_items^2 placeholder while the fit needs the memory
    with pytest.raises(RecbenchError, match="model.solve_dtype must be float64 or float32"):
        EASE(60, 25, solve_dtype="float16")


@pytest.mark.parametrize("pairs_per_block", [1 << 25, 50, 1])  # one block; several; one user each
def test_gram_matrix_summed_over_user_blocks_is_x_transpose_x(pairs_per_block):
    x = random_binary(37, 12, 0.3, 4) * np.random.default_rng(5).integers(1, 4, (37, 12))  # weighted
    np.testing.assert_array_equal(gram_matrix(sp.csr_matrix(x), pairs_per_block), x.T @ x)


@pytest.mark.parametrize("order", ["C", "F"])
def test_spd_inverse_is_made_in_the_matrix_own_memory(order):
    # EASE inverts its Gram matrix in place (LAPACK), then fills the other triangle in blocks:
    # blocks of 3 rows over 10 exercise the blocks and their diagonal squares.
    x = random_binary(30, 10, 0.4, 3)
    gram = np.array(x.T @ x + 2.0 * np.eye(10), order=order)
    expected = np.linalg.inv(gram)
    result = spd_inverse_in_place(gram, block=3)
    assert result is gram
    np.testing.assert_allclose(gram, expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(RecbenchError, match="not positive definite"):
        spd_inverse_in_place(-np.eye(4))
    single = np.array(x.T @ x + 2.0 * np.eye(10), dtype=np.float32, order=order)
    assert spd_inverse_in_place(single, block=3) is single  # LAPACK's s- routines, in place too
    np.testing.assert_allclose(single, expected, rtol=1e-4, atol=1e-6)


def test_spd_inverse_runs_lapack_on_one_blas_thread(monkeypatch):
    # scipy's OpenBLAS crashes the process in its threaded potrf at ML-20M's size (see the
    # docstring); reproducing that takes gigabytes, so this checks the guard: what BLAS threads
    # LAPACK sees while it works, with the run allowing two.
    import scipy.linalg
    from threadpoolctl import threadpool_info, threadpool_limits

    real = scipy.linalg.get_lapack_funcs
    seen = []

    def recording(names, arrays):
        def wrap(function):
            def call(*args, **kwargs):
                seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
                return function(*args, **kwargs)
            return call
        return tuple(wrap(function) for function in real(names, arrays))

    monkeypatch.setattr(scipy.linalg, "get_lapack_funcs", recording)
    gram = np.array(np.eye(6) * 3.0 + 1.0)
    with threadpool_limits(limits=2, user_api="blas"):
        spd_inverse_in_place(gram)
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {2}
    assert seen == [{1}, {1}]  # potrf and potri
    np.testing.assert_allclose(gram, np.linalg.inv(np.eye(6) * 3.0 + 1.0), rtol=1e-10)


def test_ease_warns_when_the_inverse_does_not_fit():
    model = EASE(40, 15, l2=7.0, memory_limit_gb=1e-9)
    with pytest.warns(ResourceWarning, match="EASE needs about") as caught:
        model.fit(sp.csr_matrix(random_binary(40, 15, 0.3, 1)))
    message = str(caught[0].message)
    assert "for 15 items" in message and "filter rare items" in message  # names the size and the fix
    assert np.isfinite(model.weights.numpy()).all()  # a warning, not a failure: the fit still completes


def test_puresvd_projects_on_the_top_singular_vectors():
    train = random_binary(30, 20, 0.3, 2)
    model = PureSVD(30, 20, embedding_dim=5)
    model.fit(sp.csr_matrix(train))
    _, _, vt = np.linalg.svd(train)
    projection = vt[:5].T @ vt[:5]  # V V^T, independent of the singular vectors' signs
    factors = model.item_factors.double().numpy()
    np.testing.assert_allclose(factors @ factors.T, projection, atol=1e-5)
    history = torch.from_numpy(train[:3]).float()
    np.testing.assert_allclose(model.score(torch.arange(3), history).numpy(), train[:3] @ projection, atol=1e-5)


@pytest.mark.parametrize("alpha,l1_ratio", [(0.01, 0.3), (0.003, 1.0), (0.05, 0.05)])
def test_slim_columns_equal_scikit_learn_elastic_net(alpha, l1_ratio):
    train = random_binary(60, 12, 0.3, 3)
    model = SLIM(60, 12, alpha=alpha, l1_ratio=l1_ratio, max_iter=5000, tol=1e-12)
    model.fit(sp.csr_matrix(train))
    history = torch.eye(12)
    weights = model.score(torch.arange(12), history).double().numpy()  # row j = W[j, :]
    for target in range(12):
        features = train.copy()
        features[:, target] = 0  # SLIM: an item never predicts itself
        reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False,
                               tol=1e-12, max_iter=100_000).fit(features, train[:, target])
        np.testing.assert_allclose(weights[:, target], reference.coef_, atol=1e-5)
    assert (weights >= 0).all() and np.all(np.diag(weights) == 0)
    # Blocks smaller than the item count (the gradient is refreshed between blocks) change nothing.
    blocked = elastic_net_columns(torch.from_numpy(train.T @ train), 60, alpha, l1_ratio, 5000, 1e-12, block_size=5)
    np.testing.assert_allclose(blocked.numpy(), weights, atol=1e-5)
