"""First-order Markov chain: the next item follows from the latest ones by transition counts."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.data.sequences import PAD, Sequences
from recbench.errors import require, require_positive


class Markov(nn.Module):
    """Item-to-item transitions, the classic sequential baseline (e.g. Rendle et al., WWW 2010).

    ``P(j | i)`` is the share of the times item ``i`` was followed by ``j`` in the training
    sequences. A user's scores are ``sum_k decay^k P(. | s_{n-1-k})`` over the latest ``max_len``
    items (``max_len=1``: the pure first-order chain), plus ``popularity_weight`` times the items'
    training counts divided by the largest, which ranks items no transition reaches (and users
    with no history) by popularity. The transition table is dense ``[n_items, n_items]``, as EASE's.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        max_len: how many of the latest history items vote.
        decay: weight of each older item relative to the next newer one.
        popularity_weight: weight of the popularity term.
    """

    history_kind = "sequence"

    def __init__(self, n_users: int, n_items: int, max_len: int = 1, decay: float = 0.5,
                 popularity_weight: float = 1e-6):
        super().__init__()
        require_positive("model.max_len", max_len, integer=True)
        require(0 <= decay <= 1, f"model.decay must be in [0, 1], got {decay!r}")
        require(popularity_weight >= 0, f"model.popularity_weight must be >= 0, got {popularity_weight!r}")
        self.n_users, self.n_items, self.max_len = n_users, n_items, max_len
        self.decay, self.popularity_weight = decay, popularity_weight
        self.register_buffer("transitions", torch.zeros(n_items, n_items))  # [n_items, n_items] P(j | i)
        self.register_buffer("popularity", torch.zeros(n_items))  # [n_items] in [0, 1]

    def fit(self, train: sp.csr_matrix, sequences: Sequences) -> None:
        """Count transitions between consecutive items of each user's training sequence.

        Args:
            train: binary training matrix ``[n_users, n_items]`` (for the popularity term).
            sequences: each user's training items in time order.
        """
        same_user = np.repeat(np.arange(sequences.n_users), sequences.lengths)
        follows = same_user[1:] == same_user[:-1]  # [nnz - 1] consecutive items of one user
        counts = sp.csr_matrix((np.ones(int(follows.sum()), dtype=np.float32),
                                (sequences.items[:-1][follows], sequences.items[1:][follows])),
                               shape=(self.n_items, self.n_items))  # duplicates summed
        totals = np.asarray(counts.sum(axis=1)).ravel()
        probabilities = sp.diags(1.0 / np.maximum(totals, 1.0)) @ counts
        self.transitions.copy_(torch.from_numpy(probabilities.toarray().astype(np.float32)))
        popularity = np.asarray(train.sum(axis=0)).ravel().astype(np.float32)
        self.popularity.copy_(torch.from_numpy(popularity / max(float(popularity.max()), 1.0)))

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        """Scores ``[B, n_items]`` from histories int64 ``[B, L]`` (time order, PAD on the right)."""
        real = history != PAD
        length = real.sum(dim=1, keepdim=True)  # [B, 1]
        age = length - 1 - torch.arange(history.shape[1], device=history.device)  # [B, L], 0 = latest
        weights = torch.where(real & (age < self.max_len), self.decay ** age.clamp(min=0).float(), 0.0)
        rows = self.transitions[history.clamp(min=0)]  # [B, L, n_items]
        return (weights[..., None] * rows).sum(dim=1) + self.popularity_weight * self.popularity
