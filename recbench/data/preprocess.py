"""Turning raw interactions into the implicit-feedback frame models train on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from recbench.data.interactions import Interactions

log = logging.getLogger(__name__)


def preprocess(frame: pd.DataFrame, min_rating: float | None = None, deduplicate: bool = True) -> pd.DataFrame:
    """Keep ratings >= ``min_rating`` (all when None) and one row per (user, item), the latest."""
    if min_rating is not None and "rating" in frame:
        kept = frame["rating"] >= min_rating
        log.info("min_rating=%s removed %d of %d interactions", min_rating, (~kept).sum(), len(frame))
        frame = frame[kept]
    if deduplicate:
        if "timestamp" in frame:
            frame = frame.sort_values("timestamp", kind="stable")
        before = len(frame)
        frame = frame.drop_duplicates(["user", "item"], keep="last")
        if len(frame) < before:
            log.info("deduplication removed %d repeated (user, item) pairs", before - len(frame))
    return frame.reset_index(drop=True)


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
