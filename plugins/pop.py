"""Most-popular: every user gets the items with the most training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn


class Pop(nn.Module):
    """Scores each item by its number of training interactions, the same for every user.

    The baseline every comparison needs: a model that does not beat it has learned nothing
    personal.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)

    def __init__(self, n_users: int, n_items: int):
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.register_buffer("counts", torch.zeros(n_items))  # [n_items]

    def fit(self, train: sp.csr_matrix) -> None:
        """Count each item's interactions in the training matrix ``[n_users, n_items]``."""
        counts = np.asarray(train.sum(axis=0)).ravel().astype(np.float32)
        self.counts.copy_(torch.from_numpy(counts))

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.counts.expand(len(users), -1)  # [B, n_items]
