"""The MLP tower of Neural Collaborative Filtering (He et al., WWW 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from recbench.errors import require_positive
from recbench.nn import MLPBranch, pointwise_bce


class MLP(nn.Module):
    """User and item embeddings, concatenated, through ReLU layers to one logit.

    Trained pointwise: each training interaction is a positive and ``num_negatives`` sampled
    unseen items are negatives, with binary cross-entropy on the logits
    (:func:`recbench.nn.pointwise_bce`).

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: size of the user and of the item embedding.
        hidden_dims: sizes of the hidden ReLU layers.
        dropout: dropout after each hidden layer.
        num_negatives: sampled negatives per positive interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters (Adam with lr and weight_decay by default).
    """

    batch_kind = "interactions"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 32,
                 hidden_dims: Sequence[int] = (64, 32, 16), dropout: float = 0.0, num_negatives: int = 4,
                 batch_size: int = 1024, optimizer: Callable | None = None):
        super().__init__()
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.branch = MLPBranch(n_users, n_items, embedding_dim, hidden_dims, dropout)
        self.output = nn.Linear(self.branch.out_features, 1)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits for user-item pairs: ``users`` and ``items`` broadcast to a common shape ``S``.

        Returns:
            ``[*S]`` logits.
        """
        return self.output(self.branch(users, items)).squeeze(-1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return pointwise_bce(self, batch)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.output(self.branch.all_items(users)).squeeze(-1)  # [B, n_items]
