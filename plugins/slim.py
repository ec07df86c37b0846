"""SLIM: sparse linear methods with ElasticNet (Ning and Karypis, ICDM 2011)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require, require_fraction, require_positive
from recbench.linalg.sparse import (
    TransposeCache,
    csr_tensor,
    history_times_sparse,
    register_csr,
    resize_loaded_buffers,
)


def elastic_net_columns(gram: Tensor, n_samples: int, alpha: float, l1_ratio: float, max_iter: int,
                        tol: float, block_size: int = 128) -> Tensor:
    """Non-negative ElasticNet for every column of X against all others, by coordinate descent.

    Column ``j`` of the result minimises scikit-learn's ``ElasticNet`` objective
    ``||x_j - X w||^2 / (2 n) + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio) ||w||^2 / 2`` with
    ``w >= 0`` and ``w_j = 0``. The ``n_items`` regressions are independent, so coordinate ``i``
    is updated in all of them at once (row ``i`` of ``W``), from the Gram matrix alone. The
    gradient ``G W`` is kept exact for the rows of the current block of coordinates (a rank-1
    update per coordinate) and brought up to date for all rows once per block with one matrix
    product: the same iterates as plain cyclic coordinate descent, at BLAS speed.

    Args:
        gram: ``X^T X``, ``[n_items, n_items]`` (float64 recommended).
        n_samples: rows of X (users).
        alpha, l1_ratio: the ElasticNet penalty.
        max_iter: most sweeps over the coordinates.
        tol: stop when a sweep's largest coefficient change is below ``tol`` times the largest
            coefficient.
        block_size: coordinates per block.

    Returns:
        ``W`` ``[n_items, n_items]``, zero diagonal.
    """
    n = gram.shape[0]
    weights = torch.zeros_like(gram)  # W [n_items, n_items]
    gram_weights_t = torch.zeros_like(gram)  # (G W)^T, exact at the start of each block
    l1 = alpha * l1_ratio * n_samples  # both sides of the update multiplied by n_samples
    denominators = (gram.diagonal() + alpha * (1 - l1_ratio) * n_samples).clamp(min=1e-12)
    for _ in range(max_iter):
        max_change = torch.zeros((), dtype=gram.dtype, device=gram.device)
        for start in range(0, n, block_size):
            stop = min(start + block_size, n)
            gram_block = gram[start:stop]  # G[B, :]
            gradient_block = gram_weights_t[:, start:stop].T.clone()  # (G W)[B, :], [b, n_items]
            before = weights[start:stop].clone()
            for local, i in enumerate(range(start, stop)):
                row = weights[i]
                update = (gram_block[local] - gradient_block[local] + gram[i, i] * row - l1).clamp(min=0)
                update /= denominators[i]
                update[i] = 0.0
                gradient_block.addr_(gram_block[:, i], update - row)  # the block's rows see it at once
                weights[i] = update
            change = weights[start:stop] - before  # [b, n_items]
            gram_weights_t.addmm_(change.T, gram_block)  # (G W)^T += dW_B^T G[B, :]
            max_change = torch.maximum(max_change, change.abs().max())
        if max_change <= tol * weights.abs().max().clamp(min=1e-12):
            break
    return weights


class SLIM(nn.Module):
    """A sparse, non-negative item-item weight matrix learnt by ElasticNet regressions.

    Each item's column is regressed on all other items' columns of the training matrix;
    ``score(u) = history[u] W``. The fit runs on the model's device; ``W`` is stored as sparse
    CSR buffers (its transpose, one row per scored item).

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        alpha: overall ElasticNet penalty (scikit-learn's ``alpha``).
        l1_ratio: share of the penalty that is L1.
        max_iter: most coordinate-descent sweeps.
        tol: relative convergence tolerance on the largest coefficient change of a sweep.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)
    linear_in_history = True  # score = history @ W: exact explanations
    sparse_history = True  # score takes the history as sparse rows too (a sparse product)

    def __init__(self, n_users: int, n_items: int, alpha: float = 0.25, l1_ratio: float = 0.01,
                 max_iter: int = 20, tol: float = 1e-4):
        super().__init__()
        require(alpha > 0, f"model.alpha must be > 0, got {alpha!r}")
        require_fraction("model.l1_ratio", l1_ratio, closed=True)
        require_positive("model.max_iter", max_iter, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.alpha, self.l1_ratio, self.max_iter, self.tol = alpha, l1_ratio, max_iter, tol
        register_csr(self, "weights_t", shape=(n_items, n_items))  # W^T [n_items, n_items]
        self._transposed = TransposeCache()  # W for the CPU product, remade after a refit or load

    def fit(self, train: sp.csr_matrix) -> None:
        """Learn ``W`` from ``train`` ``[n_users, n_items]``."""
        device = self.weights_t_values.device
        gram = torch.from_numpy((train.T @ train).toarray().astype(np.float64)).to(device)
        weights = elastic_net_columns(gram, train.shape[0], self.alpha, self.l1_ratio, self.max_iter, self.tol)
        register_csr(self, "weights_t", sp.csr_matrix(weights.T.float().cpu().numpy()))

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        weights_t = csr_tensor(self, "weights_t", self.n_items)
        sources = (self.weights_t_crow, self.weights_t_col, self.weights_t_values)
        transposed = self._transposed(weights_t, sources) if history.device.type == "cpu" else None
        return history_times_sparse(weights_t, history, transposed)  # [B, n_items]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        resize_loaded_buffers(self, state_dict, prefix, ("weights_t",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
