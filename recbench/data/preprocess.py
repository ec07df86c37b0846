"""Turning raw interactions into the implicit-feedback frame models train on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from recbench.data.interactions import Interactions
from recbench.errors import RecbenchError, require_positive

log = logging.getLogger(__name__)


def preprocess(frame: pd.DataFrame, min_rating: float | None = None, deduplicate: bool = True,
               min_user_interactions: int = 0, min_item_interactions: int = 0,
               max_user_interactions: int | None = None) -> pd.DataFrame:
    """Turn raw interactions into implicit feedback, in this order, logging what each step removes.

    1. ``min_rating``: keep ratings >= this (all when None).
    2. ``deduplicate``: one row per (user, item), the latest (by timestamp, else the last row);
       when off, repeated pairs are refused (see :func:`_require_unique_pairs`).
    3. ``max_user_interactions``: keep each user's latest N interactions (all when None).
    4. k-core: drop users with fewer than ``min_user_interactions`` and items with fewer than
       ``min_item_interactions``, repeated until neither removes anything (a fixed point).

    Raises:
        RecbenchError: when a step leaves no interactions, naming the step and the setting.
    """
    if min_rating is not None and "rating" in frame:
        kept = (frame["rating"] >= min_rating).to_numpy()
        _log_step(f"min_rating={min_rating}", len(frame) - int(kept.sum()), len(frame))
        frame = _require_rows(frame[kept], f"dataset.preprocess.min_rating={min_rating}")
    if deduplicate or max_user_interactions is not None:
        # Oldest first, so that "keep last" and "the latest N" mean the latest in time.
        frame = frame.sort_values("timestamp", kind="stable") if "timestamp" in frame else frame
    if deduplicate:
        before = len(frame)
        frame = frame.drop_duplicates(["user", "item"], keep="last")
        _log_step("deduplication (keep the latest)", before - len(frame), before)
    else:
        _require_unique_pairs(frame)
    if max_user_interactions is not None:
        require_positive("dataset.preprocess.max_user_interactions", max_user_interactions, integer=True)
        from_end = frame.groupby("user", sort=False).cumcount(ascending=False).to_numpy()
        kept = from_end < max_user_interactions
        _log_step(f"max_user_interactions={max_user_interactions}", len(frame) - int(kept.sum()), len(frame))
        frame = frame[kept]
    if min_user_interactions > 1 or min_item_interactions > 1:
        frame = k_core(frame, min_user_interactions, min_item_interactions)
    return frame.reset_index(drop=True)


def _require_unique_pairs(frame: pd.DataFrame) -> None:
    """Refuse repeated (user, item) pairs when deduplication is off.

    Evaluation ranks the items a user has not interacted with, so a repeated pair could sit in
    training and as a target at once: the target is masked as known and can never be hit, and
    every metric drops (to 0.0 on small data) with no error. Collapsing the repeats quietly would
    be ``deduplicate=true`` under another name, so the user is asked to choose it.
    """
    repeated = frame.duplicated(["user", "item"], keep=False).to_numpy()
    if repeated.any():
        first = frame[repeated].iloc[0]
        user, item = (v.item() if isinstance(v, np.generic) else v for v in (first["user"], first["item"]))
        raise RecbenchError(
            f"dataset.preprocess.deduplicate=false, but {int(repeated.sum())} interactions repeat a (user, item) "
            f"pair (e.g. user {user!r}, item {item!r}): a split could put a pair in training "
            "and as a test target at once. Set dataset.preprocess.deduplicate=true (keeps the latest of each)")


def _log_step(step: str, removed: int, total: int) -> None:
    log.info("preprocess: %s removed %d of %d interactions", step, removed, total)


def _require_rows(frame: pd.DataFrame, setting: str) -> pd.DataFrame:
    if frame.empty:
        raise RecbenchError(f"the dataset has no interactions left after {setting}: relax that setting")
    return frame


def k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Keep the largest subset where every user has >= ``min_user`` and every item >= ``min_item``.

    Removing users can push items under their minimum and back, so the filter repeats until
    nothing changes. Each round is two ``bincount`` over integer codes.
    """
    user_codes, user_ids = pd.factorize(frame["user"])
    item_codes, item_ids = pd.factorize(frame["item"])
    keep = np.ones(len(frame), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        user_counts = np.bincount(user_codes[keep], minlength=len(user_ids))
        item_counts = np.bincount(item_codes[keep], minlength=len(item_ids))
        new_keep = keep & (user_counts[user_codes] >= min_user) & (item_counts[item_codes] >= min_item)
        if new_keep.sum() == keep.sum():
            break
        keep = new_keep
    _log_step(f"{min_user}/{min_item} user/item k-core ({rounds} rounds)", len(frame) - int(keep.sum()),
              len(frame))
    return _require_rows(frame[keep], f"k-core filtering (dataset.preprocess.min_user_interactions="
                                      f"{min_user}, min_item_interactions={min_item})")


def statistics(data: Interactions) -> dict[str, float]:
    """Users, items, interactions, density and the Gini coefficient of item popularity."""
    popularity = np.sort(np.bincount(data.items, minlength=data.n_items)).astype(np.float64)
    n = len(popularity)
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ popularity / (n * popularity.sum())) if n else 0.0
    return {
        "n_users": data.n_users,
        "n_items": data.n_items,
        "n_interactions": len(data),
        "density": len(data) / (data.n_users * data.n_items),
        "gini_item_popularity": gini,
    }
