"""The built-in synthetic dataset scales: it costs its interactions, never users x items."""

from __future__ import annotations

import tracemalloc

import pandas as pd

from recbench.data.synthetic import generate_synthetic


def test_synthetic_data_costs_its_interactions_not_users_times_items():
    # 10,000 x 50,000 is 4 GB as a dense float64 array; the sparse generator stays far below.
    tracemalloc.start()
    frame, items = generate_synthetic(n_users=10_000, n_items=50_000, mean_interactions=4.0,
                                      min_interactions=2, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 300 * 2 ** 20
    per_user = frame.groupby("user", observed=True).size()
    assert len(per_user) == 10_000 and per_user.min() >= 2
    assert not frame.duplicated(["user", "item"]).any()
    popularity = frame["item"].value_counts().to_numpy()
    assert popularity[:5000].sum() > 0.3 * len(frame)  # a long tail: 10% of items, a third of the use
    assert len(items) == 50_000


def test_synthetic_users_concentrate_on_their_preferred_categories():
    frame, items = generate_synthetic(n_users=300, n_items=400, mean_interactions=30.0, seed=2)
    category = items["category"].reindex(frame["item"].astype(str)).to_numpy()
    counts = pd.crosstab(frame["user"].astype(str).to_numpy(), category).to_numpy()  # [users, categories]
    top_share = (counts.max(axis=1) / counts.sum(axis=1)).mean()
    assert top_share > 0.3  # a user's top category; about 0.1 plus noise for uniform picks
