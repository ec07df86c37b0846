"""The MLP tower of Neural Collaborative Filtering (He et al., WWW 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from recbench.nn import MLPBranch, OneBranchNCF


class MLP(OneBranchNCF):
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
        use_features: add side features to the embeddings: an id's vector becomes its embedding
            plus a linear map of its features, and a cold id's (no training interaction) the
            features' part alone. Off: the plain model, unchanged.
        feature_inputs: which side features to use when ``use_features``: ``item``, ``user`` or both.
        item_features: item side features (given by recbench when ``use_features``).
        user_features: user side features (given by recbench when ``use_features``).
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 32,
                 hidden_dims: Sequence[int] = (32, 16), dropout: float = 0.0, num_negatives: int = 4,
                 batch_size: int = 1024, optimizer: Callable | None = None, use_features: bool = False,
                 feature_inputs: Sequence[str] = ("item",), item_features=None, user_features=None):
        super().__init__()
        side = self._init_training("mlp", n_users, n_items, num_negatives, batch_size, optimizer, use_features,
                                   feature_inputs, item_features, user_features)
        self.branch = MLPBranch(n_users, n_items, embedding_dim, hidden_dims, dropout, **side)
        self.output = nn.Linear(self.branch.out_features, 1)
