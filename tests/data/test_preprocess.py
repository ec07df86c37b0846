"""Preprocessing steps against hand-computed results and an independent k-core."""

from __future__ import annotations

import numpy as np
import pandas as pd

import pytest

from recbench.data.preprocess import k_core, preprocess
from recbench.errors import RecbenchError


def naive_k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> set[tuple]:
    """Remove one under-supported user or item at a time until none is left (slow, obviously right)."""
    pairs = set(zip(frame["user"], frame["item"]))
    while True:
        users = pd.Series([u for u, _ in pairs]).value_counts() if pairs else pd.Series(dtype=int)
        items = pd.Series([i for _, i in pairs]).value_counts() if pairs else pd.Series(dtype=int)
        weak_users = set(users[users < min_user].index)
        weak_items = set(items[items < min_item].index)
        if not weak_users and not weak_items:
            return pairs
        pairs = {(u, i) for u, i in pairs if u not in weak_users and i not in weak_items}


def test_k_core_reaches_the_fixed_point_of_the_naive_filter():
    rng = np.random.default_rng(0)
    users = rng.zipf(1.6, 3000) % 300
    items = rng.zipf(1.4, 3000) % 200
    frame = pd.DataFrame({"user": users, "item": items}).drop_duplicates().reset_index(drop=True)
    kept = k_core(frame, 5, 3)
    assert set(zip(kept["user"], kept["item"])) == naive_k_core(frame, 5, 3)
    assert kept.groupby("user").size().min() >= 5 and kept.groupby("item").size().min() >= 3
    assert len(kept) < len(frame)  # the case actually needed filtering


def test_chain_needs_several_rounds():
    # Item c has 1 interaction -> removing it leaves user 3 with 1 -> removing 3 leaves item b with 1 ...
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4, 4],
                          "item": ["a", "x", "a", "x", "b", "c", "b", "x"]})
    kept = k_core(frame, 2, 2)
    assert sorted(zip(kept["user"], kept["item"])) == [(1, "a"), (1, "x"), (2, "a"), (2, "x")]


def test_threshold_dedup_latest_and_cap():
    frame = pd.DataFrame({
        "user": [1, 1, 1, 1, 2, 2],
        "item": [10, 10, 11, 12, 10, 11],
        "rating": [5.0, 2.0, 4.0, 5.0, 1.0, 5.0],
        "timestamp": [300, 100, 200, 50, 10, 20],
    })
    out = preprocess(frame, min_rating=2, deduplicate=True)
    # (1, 10) twice: the latest (t=300, rating 5) stays; (2, 10) is below the threshold.
    assert sorted(out.itertuples(index=False, name=None)) == [
        (1, 10, 5.0, 300), (1, 11, 4.0, 200), (1, 12, 5.0, 50), (2, 11, 5.0, 20)]
    capped = preprocess(frame, deduplicate=True, max_user_interactions=2)
    assert sorted(zip(capped["user"], capped["timestamp"])) == [(1, 200), (1, 300), (2, 10), (2, 20)]


def test_repeated_pairs_without_deduplication_are_refused():
    # Kept, a repeated pair can land in train and test at once and score 0.0 without a word.
    frame = pd.DataFrame({"user": [1, 1, 2, 1], "item": [10, 11, 10, 10], "timestamp": [1, 2, 3, 4]})
    with pytest.raises(RecbenchError, match="deduplicate=false, but 2 interactions repeat .* user 1, item 10"):
        preprocess(frame, deduplicate=False)
    assert len(preprocess(frame.drop_duplicates(["user", "item"]), deduplicate=False)) == 3
