"""Content-based item kNN: item-item similarity from item features, scored like ItemKNN."""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require, require_positive
from recbench.linalg.similarity import (
    Similarity,
    score_from_neighbours,
    store_neighbours,
    top_k_neighbours,
    top_k_neighbours_dense,
)
from recbench.linalg.sparse import TransposeCache
from recbench.plugin import FeatureTensors


class ContentKNN(nn.Module):
    """Scores an item by the user's interactions with its ``k`` most similar items by content.

    ``score(u, i) = sum over j in N(i) of cos(f_i, f_j) * history[u, j]``: ItemKNN (Sarwar et al.,
    WWW 2001) with the similarity taken from the item feature vectors ``f`` (multi-hot genres or
    tags, standardised numbers, text embeddings, or their concatenation, chosen by
    ``item_fields``) instead of co-occurrences, the classic content-based baseline (Lops et al.,
    "Content-based recommender systems", 2011). Similarities need no interaction, so cold items
    are scored from the warm items they resemble. Fields are concatenated as they are: a field's
    weight in the cosine grows with its vectors' norms.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        item_features: the item features (given by recbench), ``values [n_items, dim]``.
        k: neighbours kept per item (capped at ``n_items - 1``).
        shrink: added to the cosine's denominator; damps similarities of items with few features.
    """

    feature_inputs = ("item",)
    sparse_history = True  # score takes the history as sparse rows too (a sparse product)

    def __init__(self, n_users: int, n_items: int, item_features: FeatureTensors | None = None, k: int = 100,
                 shrink: float = 0.0):
        super().__init__()
        require_positive("model.k", k, integer=True)
        require(item_features is not None, "model contentknn needs item features (item_features=...)")
        require(tuple(item_features.values.shape[:1]) == (n_items,),
                f"model contentknn: item_features has {item_features.values.shape[0]} rows for {n_items} items")
        self.n_users, self.n_items = n_users, n_items
        self.similarity = Similarity("cosine", shrink)
        self.k = min(k, max(n_items - 1, 1))
        self.register_buffer("features", item_features.values.float(), persistent=False)  # [n_items, dim]
        self.register_buffer("neighbours", torch.zeros(n_items, self.k, dtype=torch.long))  # [n_items, k]
        self.register_buffer("weights", torch.zeros(n_items, self.k))  # [n_items, k]
        self._transposed = TransposeCache()  # W.T for the CPU product, remade after a refit or load

    def fit(self, train: sp.csr_matrix) -> None:
        """Find each item's content neighbours (``train`` is not needed: scores come from the history)."""
        features = self.features.cpu()  # [n_items, dim]
        if features.count_nonzero() < 0.1 * features.numel():  # multi-hot genres, tags, TF-IDF
            indices, values = top_k_neighbours(sp.csr_matrix(features.numpy()), self.similarity, self.k)
        else:  # dense embeddings: a dense product is far faster than a sparse one
            indices, values = top_k_neighbours_dense(features, self.similarity, self.k)
        store_neighbours(self.neighbours, self.weights, indices, values)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return score_from_neighbours(self.neighbours, self.weights, history, self._transposed)  # [B, n_items]
