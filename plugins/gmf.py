"""Generalized Matrix Factorization, the GMF branch of Neural Collaborative Filtering."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from recbench.nn import GMFBranch, OneBranchNCF


class GMF(OneBranchNCF):
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
        use_features: add side features to the embeddings: an id's vector becomes its embedding
            plus a linear map of its features, and a cold id's (no training interaction) the
            features' part alone. Off: the plain model, unchanged.
        feature_inputs: which side features to use when ``use_features``: ``item``, ``user`` or both.
        item_features: item side features (given by recbench when ``use_features``).
        user_features: user side features (given by recbench when ``use_features``).
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 32, num_negatives: int = 4,
                 batch_size: int = 1024, optimizer: Callable | None = None, use_features: bool = False,
                 feature_inputs: Sequence[str] = ("item",), item_features=None, user_features=None):
        super().__init__()
        side = self._init_training("gmf", n_users, n_items, num_negatives, batch_size, optimizer, use_features,
                                   feature_inputs, item_features, user_features)
        self.branch = GMFBranch(n_users, n_items, embedding_dim, **side)
        self.output = nn.Linear(embedding_dim, 1)
