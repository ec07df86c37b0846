"""PureSVD: truncated SVD of the user-item matrix (Cremonesi et al., RecSys 2010)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from torch import Tensor, nn

from recbench.errors import require_positive


class PureSVD(nn.Module):
    """Projects a user's history onto the top right singular vectors of the training matrix.

    With ``train ~ U S V^T`` (rank ``embedding_dim``), ``score(u) = history[u] V V^T``: the
    reconstruction of the user's row, computed from the ``history`` row so that a user's
    newest interactions count without refitting.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: number of singular vectors kept (capped at ``min(n_users, n_items) - 1``).
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)
    linear_in_history = True  # score = history @ W: exact explanations

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 50):
        super().__init__()
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.embedding_dim = min(embedding_dim, max(min(n_users, n_items) - 1, 1))
        self.register_buffer("item_factors", torch.zeros(n_items, self.embedding_dim))  # V [n_items, d]

    def fit(self, train: sp.csr_matrix) -> None:
        """Truncated SVD of ``train`` ``[n_users, n_items]`` (ARPACK, fixed start vector)."""
        matrix = train.astype(np.float64)
        start = np.full(min(matrix.shape), 1.0 / np.sqrt(min(matrix.shape)))  # deterministic
        _, _, vt = svds(matrix, k=self.embedding_dim, v0=start)  # vt [d, n_items]
        self.item_factors.copy_(torch.from_numpy(np.ascontiguousarray(vt.T, dtype=np.float32)))

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return (history @ self.item_factors) @ self.item_factors.T  # [B, n_items]
