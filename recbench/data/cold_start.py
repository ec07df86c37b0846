"""Cold-start protocols: items or users that training never sees, known only by their features."""

from __future__ import annotations

import numpy as np

from recbench.data.interactions import Interactions, Role, SplitData
from recbench.data.split import rank_within_user
from recbench.errors import require


def _draw_groups(n: int, fraction: float, valid_share: float, rng: np.random.Generator, what: str) -> np.ndarray:
    """``[n]`` int8: 0 warm, 1 cold for validation, 2 cold for test (a seeded draw)."""
    n_cold = int(round(fraction * n))
    require(n_cold >= 2, f"split.{what} leaves {n_cold} cold {what.removeprefix('cold_')} of {n}: raise split.{what}")
    n_valid = int(round(n_cold * valid_share))
    require(0 < n_valid < n_cold, f"split.valid_share={valid_share} gives {n_valid} of the {n_cold} cold "
                                  f"{what.removeprefix('cold_')} to validation: use a share in (0, 1)")
    group = np.zeros(n, dtype=np.int8)
    cold = rng.permutation(n)[:n_cold]
    group[cold[:n_valid]] = 1
    group[cold[n_valid:]] = 2
    return group


class ColdItems:
    """Item cold start, the protocol of DropoutNet (Volkovs et al., NeurIPS 2017).

    A seeded fraction of items is held out with all its interactions and divided between
    validation and test items; training sees only their features. Each evaluated user ranks the
    stage's cold items (the candidate set, ``candidates = "cold_items"``); the evaluator also
    reports the ranking among all items.

    Args:
        cold_items: fraction of items held out (validation + test).
        valid_share: share of the cold items used for validation; the rest are test items.
    """

    needs_features = ("item",)
    candidates = "cold_items"

    def __init__(self, cold_items: float = 0.2, valid_share: float = 0.5):
        require(0 < cold_items < 1, f"split.cold_items must be a fraction in (0, 1), got {cold_items!r}")
        self.cold_items, self.valid_share = cold_items, valid_share

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        group = _draw_groups(data.n_items, self.cold_items, self.valid_share, np.random.default_rng(seed),
                             "cold_items")
        codes = np.array([Role.TRAIN, Role.VALID, Role.TEST], dtype=np.int8)
        return SplitData(data, codes[group[data.items]], candidates=self.candidates)


class ColdUsers:
    """User cold start: a seeded fraction of users held out entirely.

    A held-out user is known by their features and, with ``fold_in=k``, by their first ``k``
    interactions (by time; in a seeded order when the data has no timestamps), which are given
    as history and never trained on; the rest are the targets, ranked among all items. Users with
    no more than ``k`` interactions have no target and are not evaluated.

    Args:
        cold_users: fraction of users held out (validation + test).
        valid_share: share of the cold users used for validation.
        fold_in: interactions of each cold user given as history (0: features only).
    """

    needs_features = ("user",)
    candidates = "all"

    def __init__(self, cold_users: float = 0.2, valid_share: float = 0.5, fold_in: int = 0):
        require(0 < cold_users < 1, f"split.cold_users must be a fraction in (0, 1), got {cold_users!r}")
        require(isinstance(fold_in, int) and fold_in >= 0,
                f"split.fold_in must be a whole number >= 0 (interactions given as history), got {fold_in!r}")
        self.cold_users, self.valid_share, self.fold_in = cold_users, valid_share, fold_in

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        rng = np.random.default_rng(seed)
        group = _draw_groups(data.n_users, self.cold_users, self.valid_share, rng, "cold_users")
        tiebreak = rng.random(len(data))
        keys = (tiebreak, data.timestamps) if data.timestamps is not None else tiebreak
        rank, _ = rank_within_user(data.users, keys)  # rank 0 = the user's first interaction
        fold_in = rank < self.fold_in
        user_group = group[data.users]
        roles = np.full(len(data), Role.TRAIN, dtype=np.int8)
        roles[user_group == 1] = np.where(fold_in[user_group == 1], Role.VALID_FOLD_IN, Role.VALID)
        roles[user_group == 2] = np.where(fold_in[user_group == 2], Role.TEST_FOLD_IN, Role.TEST)
        return SplitData(data, roles, candidates=self.candidates)
