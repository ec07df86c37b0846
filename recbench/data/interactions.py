"""The one interaction representation every model and the evaluator share.

A dataset is read into a pandas frame with the standard columns ``user``, ``item`` and optionally
``rating`` and ``timestamp`` (original ids). :class:`Interactions` encodes it to dense indices once;
a split then assigns every interaction a role, and :class:`SplitData` holds the resulting CSR
matrices ``[n_users, n_items]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbench.errors import RecbenchError

if TYPE_CHECKING:
    from recbench.data.features import FeatureMatrix

USER, ITEM, RATING, TIMESTAMP = "user", "item", "rating", "timestamp"


class Role:
    """Codes a split assigns to each interaction (stored as int8)."""

    TRAIN = 0
    VALID = 1  # validation target
    TEST = 2  # test target
    VALID_FOLD_IN = 3  # known history of a held-out validation user (never trained on)
    TEST_FOLD_IN = 4  # known history of a held-out test user (never trained on)


@dataclass(frozen=True)
class Interactions:
    """All interactions of a dataset, encoded to indices ``0..n-1``.

    Attributes:
        user_ids: original user id of each user index, ``[n_users]``.
        item_ids: original item id of each item index, ``[n_items]``.
        users: user index of each interaction, int64 ``[nnz]``.
        items: item index of each interaction, int64 ``[nnz]``.
        ratings: rating of each interaction ``[nnz]``, or None for implicit data.
        timestamps: timestamp of each interaction ``[nnz]`` (int64 seconds), or None.
        item_info: optional per-item side information indexed by item index (title, category...).
        item_features: item side information aligned to item indices (``dataset.features.item``),
            or None when not loaded.
        user_features: user side information aligned to user indices, or None.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    item_info: pd.DataFrame | None = field(default=None, compare=False)
    item_features: FeatureMatrix | None = field(default=None, compare=False)
    user_features: FeatureMatrix | None = field(default=None, compare=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, item_info: pd.DataFrame | None = None) -> "Interactions":
        """Encode a frame with columns user, item[, rating, timestamp] (original ids).

        Ids are sorted before encoding so that the same data gives the same indices whatever
        the row order. ``item_info``, when given, is indexed by original item id.
        """
        if frame.empty:
            raise RecbenchError("the dataset has no interactions left: relax the filters in dataset.preprocess")
        user_codes, user_ids = pd.factorize(frame[USER], sort=True)
        item_codes, item_ids = pd.factorize(frame[ITEM], sort=True)
        info = None
        if item_info is not None:
            info = item_info.reindex(item_ids).reset_index(drop=True)
        return cls(
            user_ids=np.asarray(user_ids),
            item_ids=np.asarray(item_ids),
            users=user_codes.astype(np.int64),
            items=item_codes.astype(np.int64),
            ratings=frame[RATING].to_numpy(np.float32) if RATING in frame else None,
            timestamps=frame[TIMESTAMP].to_numpy(np.int64) if TIMESTAMP in frame else None,
            item_info=info,
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def matrix(self, mask: np.ndarray | None = None) -> sp.csr_matrix:
        """Binary CSR ``[n_users, n_items]`` of the interactions selected by ``mask``."""
        users, items = (self.users, self.items) if mask is None else (self.users[mask], self.items[mask])
        data = np.ones(len(users), dtype=np.float32)
        matrix = sp.csr_matrix((data, (users, items)), shape=(self.n_users, self.n_items))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # duplicates count once: feedback is implicit
        return matrix

    def fingerprint(self) -> str:
        """sha256 over the encoded interactions, the original ids and any loaded features (16 hex digits).

        Without features the value is what it was before features existed, so earlier results
        keep their fingerprint.
        """
        digest = hashlib.sha256()
        for array in (self.users, self.items, self.ratings, self.timestamps):
            if array is not None:
                digest.update(np.ascontiguousarray(array).tobytes())
        for ids in (self.user_ids, self.item_ids):
            digest.update("\x1f".join(map(str, ids)).encode())
        for side, features in (("item", self.item_features), ("user", self.user_features)):
            if features is not None:
                digest.update(f"{side}:{features.fingerprint()}".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SplitData:
    """A dataset split into the matrices that training and evaluation read.

    All matrices are binary CSR ``[n_users, n_items]``. ``train`` is what a model fits on.
    Evaluating a stage ranks all items for each user with a target in that stage, using that
    user's ``*_history`` row as the model's input and excluding those items from the ranking.
    """

    interactions: Interactions
    roles: np.ndarray  # int8 [nnz], a Role per interaction
    # What each target is ranked among: "all" items, or "cold_items" (the stage's cold items,
    # the item cold-start protocol of split=cold_items).
    candidates: str = "all"

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items

    def _matrix(self, *roles: int) -> sp.csr_matrix:
        return self.interactions.matrix(np.isin(self.roles, roles))

    @property
    def train(self) -> sp.csr_matrix:
        return self._matrix(Role.TRAIN)

    @property
    def valid(self) -> sp.csr_matrix:
        return self._matrix(Role.VALID)

    @property
    def test(self) -> sp.csr_matrix:
        return self._matrix(Role.TEST)

    @property
    def valid_history(self) -> sp.csr_matrix:
        """What is known about each user when validating: training plus validation fold-in."""
        return self._matrix(Role.TRAIN, Role.VALID_FOLD_IN)

    @property
    def test_history(self) -> sp.csr_matrix:
        """What is known when testing: training, validation targets and test fold-in."""
        return self._matrix(Role.TRAIN, Role.VALID, Role.VALID_FOLD_IN, Role.TEST_FOLD_IN)

    def merged_for_refit(self) -> "SplitData":
        """The same split with validation targets moved into training (refit before the test)."""
        roles = self.roles.copy()
        roles[roles == Role.VALID] = Role.TRAIN
        return SplitData(self.interactions, roles, self.candidates)

    def item_train_counts(self) -> np.ndarray:
        """Training interactions of each item, int64 ``[n_items]`` (0: a cold item)."""
        return np.bincount(self.interactions.items[self.roles == Role.TRAIN], minlength=self.n_items)

    def candidate_items(self, stage: str) -> np.ndarray | None:
        """bool ``[n_items]``: the items a ``stage`` target is ranked among, or None for all items.

        Under ``candidates="cold_items"`` these are the items with a target in the stage and no
        training interaction: the stage's cold items.
        """
        if self.candidates == "all":
            return None
        code = {"valid": Role.VALID, "test": Role.TEST}[stage]
        targets = np.zeros(self.n_items, dtype=bool)
        targets[self.interactions.items[self.roles == code]] = True
        return targets & (self.item_train_counts() == 0)

    def stage(self, stage: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The (history, target) matrices of ``stage`` ("valid" or "test")."""
        if stage == "valid":
            return self.valid_history, self.valid
        if stage == "test":
            return self.test_history, self.test
        raise ValueError(f"unknown stage {stage!r}")

    def counts(self) -> dict[str, int]:
        """Interactions per role, by name."""
        names = {Role.TRAIN: "train", Role.VALID: "valid", Role.TEST: "test",
                 Role.VALID_FOLD_IN: "valid_fold_in", Role.TEST_FOLD_IN: "test_fold_in"}
        return {name: int((self.roles == code).sum()) for code, name in names.items()}
