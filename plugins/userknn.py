"""User-based neighbourhood collaborative filtering (Resnick et al., CSCW 1994; Herlocker et al. 1999)."""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require_positive
from recbench.evaluation.ranking import dense_interactions
from recbench.linalg.scatter_product import sparse_product_dense
from recbench.linalg.similarity import Similarity, dense_stats, vector_stats
from recbench.linalg.sparse import (
    csr_from_parts,
    csr_tensor,
    register_csr,
    resize_loaded_buffers,
    scipy_csr,
    sparse_rows,
)


class UserKNN(nn.Module):
    """Scores an item by how many of the user's ``k`` most similar users interacted with it.

    ``score(u, i) = sum over v in N(u) of sim(u, v) * train[v, i]``. The neighbours ``N(u)`` are
    found when scoring, from the user's ``history`` row against every training user (one sparse
    product per batch), so a user absent from training (fold-in) gets neighbours too. The user
    never neighbours themself. The training matrix is kept as sparse CSR buffers.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        k: neighbours per user (capped at ``n_users - 1``).
        similarity: ``cosine``, ``pearson``, ``jaccard``, ``asymmetric`` or ``tversky``.
        shrink: added to the similarity's denominator.
        normalize: divide cosine, pearson and asymmetric similarities by the norms.
        alpha: asymmetric cosine's and Tversky's alpha.
        beta: Tversky's beta.
    """

    sparse_history = True  # score takes the history as sparse rows too (sparse products)

    def __init__(self, n_users: int, n_items: int, k: int = 100, similarity: str = "cosine",
                 shrink: float = 10.0, normalize: bool = True, alpha: float = 0.5, beta: float = 1.0):
        super().__init__()
        require_positive("model.k", k, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.similarity = Similarity(similarity, shrink, normalize, alpha, beta)
        self.k = min(k, max(n_users - 1, 1))
        register_csr(self, "train", shape=(n_users, n_items))  # [n_users, n_items]
        register_csr(self, "train_t", shape=(n_items, n_users))  # [n_items, n_users]
        self.register_buffer("user_sum", torch.zeros(n_users))  # [n_users]
        self.register_buffer("user_sq", torch.zeros(n_users))  # [n_users]

    def fit(self, train: sp.csr_matrix) -> None:
        """Keep the training matrix ``[n_users, n_items]`` and its users' statistics."""
        register_csr(self, "train", train)
        register_csr(self, "train_t", train.T.tocsr())
        total, squares = vector_stats(train)
        self.user_sum.copy_(total)
        self.user_sq.copy_(squares)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        on_cpu = history.device.type == "cpu"
        train_t = csr_tensor(self, "train_t", self.n_users)  # [n_items, n_users]
        if on_cpu:
            dot = torch.from_numpy(sparse_product_dense(sparse_rows(history), scipy_csr(train_t)))  # [B, n_users]
        else:
            dot = (csr_tensor(self, "train", self.n_items) @ dense_interactions(history).T).T
        sims = self.similarity(dot, dense_stats(history), (self.user_sum, self.user_sq), self.n_items)
        sims[torch.arange(len(users), device=sims.device), users] = float("-inf")
        top = torch.topk(sims, self.k, dim=1)
        # -inf (the user themself) can only be picked when there is no other training user.
        weights = top.values.nan_to_num(neginf=0.0)  # [B, k]
        if on_cpu:
            rows = torch.arange(0, weights.numel() + 1, self.k)
            neighbours = csr_from_parts(weights.reshape(-1).numpy(), top.indices.reshape(-1).numpy(), rows.numpy(),
                                        (len(users), self.n_users))
            return torch.from_numpy(sparse_product_dense(neighbours, scipy_csr(csr_tensor(self, "train", self.n_items))))
        weights = torch.zeros_like(sims).scatter_(1, top.indices, weights)  # [B, n_users]
        return (train_t @ weights.T).T  # [B, n_items]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        resize_loaded_buffers(self, state_dict, prefix, ("train", "train_t"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
