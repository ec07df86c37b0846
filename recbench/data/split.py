"""Split protocols: each assigns every interaction a :class:`Role`, drawn from the seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recbench.data.interactions import Interactions, Role, SplitData
from recbench.errors import require


def rank_within_user(users: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each interaction among its user's interactions ordered by ``keys``.

    Returns:
        ``(rank, count)``, both ``[nnz]``: 0-based rank within the user, and the user's count.
    """
    order = np.lexsort((keys, users))
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank, counts[users]


class RandomSplit:
    """Per-user random split by ratio (train, valid, test), the default protocol.

    Args:
        ratios: fractions of each user's interactions for train, valid and test (sum to 1).
        min_user_interactions: users with fewer interactions keep them all in train.
    """

    def __init__(self, ratios: Sequence[float] = (0.8, 0.1, 0.1), min_user_interactions: int = 3):
        ratios = tuple(float(r) for r in ratios)
        require(len(ratios) == 3 and all(r >= 0 for r in ratios) and abs(sum(ratios) - 1) < 1e-6,
                f"split.ratios must be three non-negative fractions (train, valid, test) that sum to 1, "
                f"got {list(ratios)}")
        self.ratios = ratios
        self.min_user_interactions = min_user_interactions

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        rng = np.random.default_rng(seed)
        rank, count = rank_within_user(data.users, rng.random(len(data)))
        _, valid_ratio, test_ratio = self.ratios
        n_test = np.floor(count * test_ratio + 0.5)
        n_valid = np.floor(count * valid_ratio + 0.5)
        roles = np.full(len(data), Role.TRAIN, dtype=np.int8)
        roles[rank < n_test] = Role.TEST
        roles[(rank >= n_test) & (rank < n_test + n_valid)] = Role.VALID
        roles[count < self.min_user_interactions] = Role.TRAIN
        return SplitData(data, roles)
