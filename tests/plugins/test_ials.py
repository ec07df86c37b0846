"""iALS against a direct per-row closed-form solve, and its objective never increasing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from plugins.ials import IALS

SETTINGS = dict(embedding_dim=4, unobserved_weight=0.2, l2=0.05, reg_exponent=1.0, init_std=1.0)


def tiny() -> np.ndarray:
    matrix = (np.random.default_rng(0).random((9, 7)) < 0.4).astype(np.float64)
    matrix[2] = 0  # a user without interactions
    return matrix


def fitted(train: np.ndarray, n_iterations: int, cg_steps: int) -> IALS:
    torch.manual_seed(0)  # the same initial factors for every model built here
    model = IALS(*train.shape, n_iterations=n_iterations, cg_steps=cg_steps, **SETTINGS)
    model.fit(sp.csr_matrix(train))
    return model


def closed_form(matrix: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Each row's exact minimiser, one ``d x d`` solve per row, in float64."""
    a0, l2, nu = SETTINGS["unobserved_weight"], SETTINGS["l2"], SETTINGS["reg_exponent"]
    out = []
    for row in matrix:
        seen = fixed[row > 0]
        reg = l2 * (row.sum() + a0 * len(fixed)) ** nu
        lhs = seen.T @ seen + a0 * fixed.T @ fixed + reg * np.eye(fixed.shape[1])
        out.append(np.linalg.solve(lhs, seen.sum(axis=0)))
    return np.array(out)


def objective(train: np.ndarray, model: IALS) -> float:
    a0, l2, nu = SETTINGS["unobserved_weight"], SETTINGS["l2"], SETTINGS["reg_exponent"]
    users, items = model.user_factors.double().numpy(), model.item_factors.double().numpy()
    predicted = users @ items.T
    loss = ((1 - predicted[train > 0]) ** 2).sum() + a0 * (predicted ** 2).sum()
    user_reg = (train.sum(1) + a0 * train.shape[1]) ** nu @ (users ** 2).sum(1)
    item_reg = (train.sum(0) + a0 * train.shape[0]) ** nu @ (items ** 2).sum(1)
    return loss + l2 * (user_reg + item_reg)


def test_item_step_is_the_exact_least_squares_solution():
    train = tiny()
    model = fitted(train, n_iterations=3, cg_steps=0)
    users = model.user_factors.double().numpy()
    np.testing.assert_allclose(model.item_factors.numpy(), closed_form(train.T, users), rtol=1e-4, atol=1e-5)
    scores = model.score(torch.tensor([0, 4]), torch.zeros(2, 7))
    np.testing.assert_allclose(scores.numpy(), users[[0, 4]] @ model.item_factors.double().numpy().T, atol=1e-5)


def test_objective_never_increases():
    train = tiny()
    losses = [objective(train, fitted(train, n, cg_steps=0)) for n in range(1, 6)]
    assert all(later <= earlier + 1e-6 for earlier, later in zip(losses, losses[1:])), losses


def test_conjugate_gradient_with_d_steps_is_exact():
    train = tiny()
    exact, cg = fitted(train, 2, cg_steps=0), fitted(train, 2, cg_steps=SETTINGS["embedding_dim"])
    np.testing.assert_allclose(cg.user_factors.numpy(), exact.user_factors.numpy(), atol=1e-4)
    np.testing.assert_allclose(cg.item_factors.numpy(), exact.item_factors.numpy(), atol=1e-4)


@pytest.mark.parametrize("cg_steps", [0, 3])
def test_refit_starts_from_the_same_initial_factors(cg_steps):
    train = tiny()
    model = fitted(train, 2, cg_steps)
    first = model.item_factors.clone()
    model.fit(sp.csr_matrix(train))
    assert torch.equal(model.item_factors, first)
