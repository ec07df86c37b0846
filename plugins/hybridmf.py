"""Hybrid matrix factorisation: LightFM's model (Kula 2015) in torch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require, require_positive
from recbench.feature_layers import (
    HybridEmbedding,
    check_loss_name,
    feature_tensors,
    ranking_loss,
    training_degrees,
)

FEATURE_KINDS = ("item", "user")


class HybridMF(nn.Module):
    """``score(u, i) = p_u . q_i + b_i`` where each vector is an id embedding plus its features' embedding.

    Kula, "Metadata Embeddings for User and Item Cold-start Recommendations" (LightFM), CBRecSys
    2015: an item's vector ``q_i = e_i + W x_i`` sums its id embedding ``e_i`` and the embeddings
    of its features ``x_i`` (a linear map ``W``, LightFM's feature embeddings); users alike when
    ``"user"`` is among ``feature_inputs``, and the bias ``b_i`` likewise (id bias plus ``w . x_i``).
    A cold id (no training interaction; recbench tells the model through :meth:`prepare`) has
    no id part: its score depends on its features alone, so it can be ranked among warm ones.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        item_features: item side features (``values`` ``[n_items, dim]``, ``mask`` ``[n_items]``),
            given by recbench when ``"item"`` is in ``feature_inputs``.
        user_features: user side features ``[n_users, dim]``, when ``"user"`` is in ``feature_inputs``.
        feature_inputs: which side features the model uses: ``item``, ``user`` or both.
        embedding_dim: size of the user and item vectors.
        use_ids: add id embeddings (False: a pure content model, every id scored from features).
        loss: ``bpr``, ``warp`` (LightFM's default) or ``sampled_softmax``.
        embedding_reg: L2 penalty on the batch's user and item vectors (sum of squares / batch size).
        num_negatives: sampled unseen items per training interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "interactions"

    def __init__(self, n_users: int, n_items: int, item_features=None, user_features=None,
                 feature_inputs: Sequence[str] = ("item",), embedding_dim: int = 64, use_ids: bool = True,
                 loss: str = "warp", embedding_reg: float = 0.0, num_negatives: int = 8,
                 batch_size: int = 1024, optimizer: Callable | None = None):
        super().__init__()
        feature_inputs = tuple(feature_inputs)
        require(set(feature_inputs) <= set(FEATURE_KINDS),
                f"model.feature_inputs must list item and/or user, got {list(feature_inputs)}")
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        check_loss_name(loss)
        require(embedding_reg >= 0, f"model.embedding_reg must be >= 0, got {embedding_reg!r}")
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        if "item" in feature_inputs:
            item_features = feature_tensors(item_features, "hybridmf", "item")
        if "user" in feature_inputs:
            user_features = feature_tensors(user_features, "hybridmf", "user")
        item_features = item_features if "item" in feature_inputs else None
        user_features = user_features if "user" in feature_inputs else None
        require(use_ids or item_features is not None,
                "model.use_ids=false needs item features: add item to model.feature_inputs")
        self.n_users, self.n_items = n_users, n_items
        self.feature_inputs = feature_inputs
        self.loss_name, self.embedding_reg = loss, embedding_reg
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        # Users without features still need an id embedding (there is nothing else to learn from).
        self.users = HybridEmbedding(n_users, embedding_dim, user_features, use_ids or user_features is None)
        self.items = HybridEmbedding(n_items, embedding_dim, item_features, use_ids)
        self.item_bias = HybridEmbedding(n_items, 1, item_features, use_ids, init_std=0.0)

    def prepare(self, train: sp.csr_matrix) -> None:
        """Record which users and items have training interactions; the others are cold."""
        user_degree, item_degree = training_degrees(train)
        self.users.set_warm(user_degree)
        self.items.set_warm(item_degree)
        self.item_bias.set_warm(item_degree)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        users, items, negatives = batch["users"], batch["items"], batch["negatives"]
        # Every item's vector once (features are mapped for all items anyway), then looked up.
        item_vectors, item_bias = self.items(), self.item_bias()[:, 0]  # [n_items, d], [n_items]
        u = self.users(users)  # [B, d]
        pos, neg = item_vectors[items], item_vectors[negatives]  # [B, d], [B, K, d]
        positive = (u * pos).sum(-1) + item_bias[items]  # [B]
        negative = torch.einsum("bd,bkd->bk", u, neg) + item_bias[negatives]  # [B, K]
        loss = ranking_loss(positive, negative, self.loss_name, self.n_items)
        if self.embedding_reg:
            squares = u.pow(2).sum() + pos.pow(2).sum() + neg.pow(2).sum()
            loss = loss + self.embedding_reg * squares / len(users)
        return loss

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.users(users) @ self.items().T + self.item_bias()[:, 0]  # [B, n_items]
