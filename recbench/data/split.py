"""Split protocols: each assigns every interaction a :class:`Role`, drawn from the seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recbench.data.interactions import Interactions, Role, SplitData
from recbench.errors import require


def rank_within_user(users: np.ndarray, keys: np.ndarray | tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Position of each interaction among its user's interactions ordered by ``keys``.

    Args:
        users: ``[nnz]`` user index of each interaction.
        keys: ``[nnz]`` sort key, or a tuple of keys for ``np.lexsort`` (the last is the primary).

    Returns:
        ``(rank, count)``, both ``[nnz]``: 0-based rank within the user, and the user's count.
    """
    order = np.lexsort((*(keys if isinstance(keys, tuple) else (keys,)), users))
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank, counts[users]


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Three non-negative fractions (train, valid, test) that sum to 1."""
    ratios = tuple(float(r) for r in ratios)
    require(len(ratios) == 3 and all(r >= 0 for r in ratios) and abs(sum(ratios) - 1) < 1e-6,
            f"split.ratios must be three non-negative fractions (train, valid, test) that sum to 1, "
            f"got {list(ratios)} (sum {sum(ratios):g}): e.g. split.ratios=[0.8,0.1,0.1]")
    return ratios


def require_timestamps(data: Interactions, protocol: str) -> np.ndarray:
    """The timestamps a time-based protocol needs, or a message saying the dataset has none."""
    require(data.timestamps is not None,
            f"split={protocol} orders interactions by time, but this dataset has no timestamps: "
            "use split=random, or map a timestamp column in dataset.source.columns")
    return data.timestamps


class RandomSplit:
    """Per-user random split by ratio (train, valid, test), the default protocol.

    Args:
        ratios: fractions of each user's interactions for train, valid and test (sum to 1).
        min_user_interactions: users with fewer interactions keep them all in train.
    """

    time_ordered = False  # targets are drawn at random, not after the history in time

    def __init__(self, ratios: Sequence[float] = (0.8, 0.1, 0.1), min_user_interactions: int = 3):
        self.ratios = check_ratios(ratios)
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


class LeaveOneOut:
    """Leave-one-out by time, the NCF protocol (He et al., WWW 2017).

    Each user's latest interaction is the test target and the second-latest the validation
    target; interactions at the same timestamp are ordered by a draw from the seed.

    Args:
        min_user_interactions: users with fewer interactions keep them all in train.
    """

    time_ordered = True  # every target is later than its user's history

    def __init__(self, min_user_interactions: int = 3):
        self.min_user_interactions = min_user_interactions

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        timestamps = require_timestamps(data, "leave_one_out")
        tiebreak = np.random.default_rng(seed).random(len(data))
        rank, count = rank_within_user(data.users, (-tiebreak, -timestamps))  # rank 0 = latest
        roles = np.full(len(data), Role.TRAIN, dtype=np.int8)
        roles[rank == 0] = Role.TEST
        roles[rank == 1] = Role.VALID
        roles[count < self.min_user_interactions] = Role.TRAIN
        return SplitData(data, roles)


class TemporalSplit:
    """Global temporal split: the oldest interactions train, the newest test.

    All interactions are ordered by timestamp (ties by a draw from the seed) and cut at the
    quantiles given by ``ratios``, so no training interaction is later than any test one.
    Users whose interactions all fall after the cut are evaluated from an empty history.

    Args:
        ratios: fractions of all interactions for train, valid and test (sum to 1).
    """

    time_ordered = True

    def __init__(self, ratios: Sequence[float] = (0.8, 0.1, 0.1)):
        self.ratios = check_ratios(ratios)

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        timestamps = require_timestamps(data, "temporal")
        order = np.lexsort((np.random.default_rng(seed).random(len(data)), timestamps))
        position = np.empty(len(data), dtype=np.int64)
        position[order] = np.arange(len(data))
        train_end = int(np.floor(len(data) * self.ratios[0] + 0.5))
        valid_end = train_end + int(np.floor(len(data) * self.ratios[1] + 0.5))
        roles = np.full(len(data), Role.TRAIN, dtype=np.int8)
        roles[position >= train_end] = Role.VALID
        roles[position >= valid_end] = Role.TEST
        return SplitData(data, roles)


class HeldOutUsers:
    """Held-out users, the Mult-VAE protocol (Liang et al., WWW 2018).

    Validation and test users are drawn from the seed and never trained on. Each held-out
    user's interactions are split at random into a fold-in part (the history the model is given,
    ``fold_in_ratio``) and the evaluation targets (the rest).

    Args:
        valid_users: number of validation users, or a fraction of all users when < 1.
        test_users: number of test users, or a fraction of all users when < 1.
        fold_in_ratio: share of a held-out user's interactions given as history.
        min_user_interactions: held-out users with fewer interactions keep them all as fold-in
            (they are not evaluated), as in the original code's 5-interaction minimum.
    """

    time_ordered = False

    def __init__(self, valid_users: float = 0.1, test_users: float = 0.1, fold_in_ratio: float = 0.8,
                 min_user_interactions: int = 5):
        for name, value in (("valid_users", valid_users), ("test_users", test_users)):
            require(value >= 0 and (value < 1 or float(value).is_integer()),
                    f"split.{name} must be a fraction in [0, 1) or a whole number of users, got {value!r}")
        require(0 < fold_in_ratio < 1, f"split.fold_in_ratio must be in (0, 1), got {fold_in_ratio!r}")
        self.valid_users, self.test_users = valid_users, test_users
        self.fold_in_ratio = fold_in_ratio
        self.min_user_interactions = min_user_interactions

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        rng = np.random.default_rng(seed)
        n_valid, n_test = (int(round(v * data.n_users)) if v < 1 else int(v)
                           for v in (self.valid_users, self.test_users))
        require(n_valid + n_test < data.n_users,
                f"split asks for {n_valid} validation and {n_test} test users, but the dataset has only "
                f"{data.n_users}: lower split.valid_users / split.test_users")
        group = np.zeros(data.n_users, dtype=np.int8)  # 0 train, 1 valid, 2 test
        shuffled = rng.permutation(data.n_users)
        group[shuffled[:n_test]] = 2
        group[shuffled[n_test:n_test + n_valid]] = 1
        rank, count = rank_within_user(data.users, rng.random(len(data)))
        # Mult-VAE's code holds out int(0.2 * n) of each held-out user's items.
        n_target = np.floor(count * (1 - self.fold_in_ratio) + 1e-9)
        is_target = (rank < n_target) & (count >= self.min_user_interactions)
        user_group = group[data.users]
        roles = np.full(len(data), Role.TRAIN, dtype=np.int8)
        roles[user_group == 1] = np.where(is_target[user_group == 1], Role.VALID, Role.VALID_FOLD_IN)
        roles[user_group == 2] = np.where(is_target[user_group == 2], Role.TEST, Role.TEST_FOLD_IN)
        return SplitData(data, roles)
