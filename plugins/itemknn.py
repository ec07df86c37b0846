"""Item-based neighbourhood collaborative filtering (Sarwar et al., WWW 2001)."""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require_positive
from recbench.linalg.similarity import (
    Similarity,
    score_from_neighbours,
    store_neighbours,
    top_k_neighbours,
)
from recbench.linalg.sparse import TransposeCache


class ItemKNN(nn.Module):
    """Scores an item by the user's interactions with its ``k`` most similar items.

    ``score(u, i) = sum over j in N(i) of sim(i, j) * history[u, j]``, with ``N(i)`` the ``k``
    items most similar to ``i`` in the training matrix (as tuned by Ferrari Dacrema et al.,
    RecSys 2019). Neighbours are found block by block from sparse products (see
    :mod:`recbench.linalg.similarity`) and stored as ``[n_items, k]`` index and weight buffers.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        k: neighbours kept per item (capped at ``n_items - 1``).
        similarity: ``cosine``, ``pearson``, ``jaccard``, ``asymmetric`` or ``tversky``.
        shrink: added to the similarity's denominator.
        normalize: divide cosine, pearson and asymmetric similarities by the norms.
        alpha: asymmetric cosine's and Tversky's alpha.
        beta: Tversky's beta.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)
    linear_in_history = True  # score = history @ W: exact explanations
    sparse_history = True  # score takes the history as sparse rows too (a sparse product)

    def __init__(self, n_users: int, n_items: int, k: int = 100, similarity: str = "cosine",
                 shrink: float = 10.0, normalize: bool = True, alpha: float = 0.5, beta: float = 1.0):
        super().__init__()
        require_positive("model.k", k, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.similarity = Similarity(similarity, shrink, normalize, alpha, beta)
        self.k = min(k, max(n_items - 1, 1))
        # Row i: item i's neighbours (ascending index) and their similarities.
        self.register_buffer("neighbours", torch.zeros(n_items, self.k, dtype=torch.long))  # [n_items, k]
        self.register_buffer("weights", torch.zeros(n_items, self.k))  # [n_items, k]
        self._transposed = TransposeCache()  # W.T for the CPU product, remade after a refit or load

    def fit(self, train: sp.csr_matrix) -> None:
        """Find each item's neighbours among the columns of ``train`` ``[n_users, n_items]``."""
        indices, values = top_k_neighbours(train.T.tocsr(), self.similarity, self.k)
        store_neighbours(self.neighbours, self.weights, indices, values)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return score_from_neighbours(self.neighbours, self.weights, history, self._transposed)  # [B, n_items]
