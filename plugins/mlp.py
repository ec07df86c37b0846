"""The MLP tower of Neural Collaborative Filtering (He et al., WWW 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require_fraction, require_positive


class MLP(nn.Module):
    """User and item embeddings, concatenated, through ReLU layers to one logit.

    Trained pointwise: each training interaction is a positive and ``num_negatives`` sampled
    unseen items are negatives, with binary cross-entropy on the logits (``binary_cross_entropy
    _with_logits``; applying ``BCELoss`` to an unbounded linear output, as some tutorials do, is a
    bug).

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
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        for width in hidden_dims:
            require_positive("every entry of model.hidden_dims", width, integer=True)
        require_fraction("model.dropout", dropout)
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))

        self.user_embedding = nn.Embedding(n_users, embedding_dim)
        self.item_embedding = nn.Embedding(n_items, embedding_dim)
        nn.init.normal_(self.user_embedding.weight, std=0.01)
        nn.init.normal_(self.item_embedding.weight, std=0.01)
        layers, width = [], 2 * embedding_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.tower = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1)

    def features(self, users: Tensor, items: Tensor) -> Tensor:
        """The last hidden layer for user-item pairs broadcast to a common shape ``S``: ``[*S, h]``.

        NeuMF fuses this with GMF's features before its own output layer.
        """
        u = self.user_embedding(users)  # [*S, d]
        i = self.item_embedding(items)  # [*S, d]
        u, i = torch.broadcast_tensors(u, i)
        return self.tower(torch.cat([u, i], dim=-1))  # [*S, h]

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits for user-item pairs: ``users`` and ``items`` broadcast to a common shape ``S``.

        Returns:
            ``[*S]`` logits.
        """
        return self.output(self.features(users, items)).squeeze(-1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return pointwise_bce(self, batch)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        if len(self.tower) == 0:  # no hidden layer: the output layer sees [u; i] directly
            return self(users[:, None], torch.arange(self.n_items, device=users.device)[None, :])
        return self.output(self.all_item_features(users)).squeeze(-1)  # [B, n_items]

    def all_item_features(self, users: Tensor) -> Tensor:
        """``features`` of each user with every item, ``[B, n_items, h]``, for full ranking.

        The first layer of ``[u; i]`` splits into ``W_u u + W_i i``: computing each half once and
        broadcasting avoids building the ``[B, n_items, 2d]`` concatenation.
        """
        first, rest = self.tower[0], self.tower[1:]
        d = self.user_embedding.embedding_dim
        user_part = self.user_embedding(users) @ first.weight[:, :d].T + first.bias  # [B, h1]
        item_part = self.item_embedding.weight @ first.weight[:, d:].T  # [n_items, h1]
        return rest(user_part[:, None, :] + item_part[None, :, :])  # [B, n_items, h_last]


def pointwise_bce(model: Callable[[Tensor, Tensor], Tensor], batch: dict[str, Tensor]) -> Tensor:
    """Binary cross-entropy of ``model(users, items)`` logits: the positive is 1, negatives 0.

    Args:
        model: maps broadcastable ``users`` ``[B, 1]`` and ``items`` ``[B, 1 + n_neg]`` to logits.
        batch: an ``"interactions"`` batch.
    """
    users = batch["users"][:, None]  # [B, 1]
    items = torch.cat([batch["items"][:, None], batch["negatives"]], dim=1)  # [B, 1 + n_neg]
    logits = model(users, items)  # [B, 1 + n_neg]
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(logits, labels)
