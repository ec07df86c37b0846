"""Generalized Matrix Factorization, the GMF branch of Neural Collaborative Filtering."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from recbench.errors import require_positive
from recbench.nn import GMFBranch, pointwise_bce


class GMF(nn.Module):
    """``logit(u, i) = h . (p_u * q_i)``: MF with a learned weighting of the factors.

    He et al., "Neural Collaborative Filtering", WWW 2017, section 3.2. Trained pointwise with
    binary cross-entropy on sampled negatives, like the ``mlp`` plugin.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: size of the user and item factors (the paper's "predictive factors").
        num_negatives: sampled unseen items per training interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "interactions"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 32, num_negatives: int = 4,
                 batch_size: int = 1024, optimizer: Callable | None = None):
        super().__init__()
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.branch = GMFBranch(n_users, n_items, embedding_dim)
        self.output = nn.Linear(embedding_dim, 1)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits ``[*S]`` for user-item pairs broadcast to a common shape ``S``."""
        return self.output(self.branch(users, items)).squeeze(-1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return pointwise_bce(self, batch)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.branch.score_all(users, self.output.weight[0]) + self.output.bias  # [B, n_items]
