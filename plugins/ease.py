"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require
from recbench.linalg.sparse import history_times_dense


def available_memory_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (GPU memory, or Linux's MemAvailable); None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


class EASE(nn.Module):
    """A dense item-item weight matrix with a zero diagonal, in closed form.

    ``B = argmin ||X - X B||^2 + l2 ||B||^2`` subject to ``diag(B) = 0`` has the solution
    ``P = (X^T X + l2 I)^-1``, ``B_ij = -P_ij / P_jj`` (``B_jj = 0``); ``score(u) = history[u] B``.
    The inverse is dense, ``n_items^2`` entries computed in float64: a warning says when that
    will not fit in memory.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        l2: the L2 penalty lambda (Steck's best values on MovieLens are in the hundreds).
        memory_limit_gb: memory the fit may use before warning; null reads what is free.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)
    linear_in_history = True  # score = history @ W: exact explanations

    def __init__(self, n_users: int, n_items: int, l2: float = 500.0, memory_limit_gb: float | None = None):
        super().__init__()
        require(l2 > 0, f"model.l2 must be > 0 (it keeps X^T X + l2 I invertible), got {l2!r}")
        self.n_users, self.n_items = n_users, n_items
        self.l2, self.memory_limit_gb = l2, memory_limit_gb
        self.register_buffer("weights", torch.zeros(n_items, n_items))  # B [n_items, n_items]

    def fit(self, train: sp.csr_matrix) -> None:
        """Solve for ``B`` from ``train`` ``[n_users, n_items]`` on the model's device."""
        device = self.weights.device
        needed = 3 * self.n_items ** 2 * 8  # Gram, inverse and weights in float64
        limit = (self.memory_limit_gb * 1024 ** 3 if self.memory_limit_gb is not None
                 else available_memory_bytes(device))
        if limit is not None and needed > limit:
            warnings.warn(f"EASE needs about {needed / 1024 ** 3:.1f} GiB for {self.n_items} items but "
                          f"{limit / 1024 ** 3:.1f} GiB is available: filter rare items (dataset.preprocess) "
                          "or use a sparse model (slim, itemknn)", ResourceWarning, stacklevel=2)
        gram = torch.from_numpy((train.T @ train).toarray().astype(np.float64)).to(device)
        gram.diagonal().add_(self.l2)
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(gram))  # P [n_items, n_items]; gram is SPD
        weights = inverse / (-inverse.diagonal())  # column j divided by -P_jj
        weights.diagonal().zero_()
        self.weights.copy_(weights)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return history_times_dense(history, self.weights)  # [B, n_items]
