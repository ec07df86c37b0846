"""Large data on one machine: the synthetic generator, a block of users at a time.

The generator must give, for any parameters, the data that the dense implementation gave (it is
kept below as the reference): the tests, the leaderboard and the documented numbers are computed
from it.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from recbench.data import synthetic
from recbench.data.synthetic import (
    _ADJECTIVES,
    _NOUNS,
    _first_of_argsort,
    _skip_doubles,
    generate_synthetic,
)


def dense_generate_synthetic(n_users=1000, n_items=500, n_categories=10, latent_dim=8, mean_interactions=40.0,
                             min_interactions=5, popularity_exponent=1.5, taste_strength=3.0,
                             category_affinity=1.0, seed=0):
    """The generator as it was before it was blocked: every draw in one ``[n_users, n_items]`` array."""
    rng = np.random.default_rng(seed)

    item_category = rng.integers(0, n_categories, size=n_items)  # [n_items]
    popularity = 1.0 / np.arange(1, n_items + 1) ** popularity_exponent
    popularity = popularity[rng.permutation(n_items)]  # popular items spread over categories
    item_vectors = rng.normal(size=(n_items, latent_dim)) / np.sqrt(latent_dim)  # [n_items, d]

    user_vectors = rng.normal(size=(n_users, latent_dim))  # [n_users, d]
    category_taste = rng.dirichlet(np.full(n_categories, 0.3), size=n_users)  # [n_users, C]

    logits = (
        taste_strength * user_vectors @ item_vectors.T
        + category_affinity * np.log(category_taste[:, item_category] * n_categories + 1e-3)
        + np.log(popularity)[None, :]
    )  # [n_users, n_items]
    gumbel = -np.log(-np.log(rng.uniform(size=logits.shape)))
    ranked = np.argsort(-(logits + gumbel), axis=1)  # each row: a sample without replacement

    sigma = 0.6
    counts = rng.lognormal(np.log(mean_interactions) - sigma**2 / 2, sigma, size=n_users)
    counts = np.clip(np.round(counts), min_interactions, n_items).astype(np.int64)  # [n_users]
    taken = np.arange(n_items)[None, :] < counts[:, None]  # [n_users, n_items]
    users = np.repeat(np.arange(n_users), counts)
    items = ranked[taken]  # row-major, so aligned with `users`

    start = rng.integers(1_500_000_000, 1_600_000_000, size=n_users)
    span = rng.integers(86_400, 365 * 86_400, size=n_users)
    timestamps = start[users] + (rng.uniform(size=len(users)) * span[users]).astype(np.int64)
    ratings = np.clip(np.round(3.0 + logits[users, items] - logits.mean()), 1, 5)

    interactions = pd.DataFrame({
        "user": np.char.add("u", users.astype(str)),
        "item": np.char.add("i", items.astype(str)),
        "rating": ratings.astype(np.float32),
        "timestamp": timestamps,
    })
    titles = [f"{_ADJECTIVES[a]} {_NOUNS[b]} {i}" for i, (a, b) in enumerate(
        zip(rng.integers(0, len(_ADJECTIVES), n_items), rng.integers(0, len(_NOUNS), n_items)))]
    items_frame = pd.DataFrame(
        {"title": titles, "category": [f"category-{c}" for c in item_category]},
        index=pd.Index([f"i{i}" for i in range(n_items)], name="item"),
    )
    return interactions, items_frame


# The default dataset, the tests' tiny ones, odd and even sizes (the generator's buffered 32-bit
# half-word differs), users who take every item, other shapes of the model.
PARAMETERS = [
    {},
    {"n_users": 120, "n_items": 80, "mean_interactions": 20},
    {"n_users": 150, "n_items": 90, "mean_interactions": 15, "seed": 3},
    {"n_users": 200, "n_items": 100, "mean_interactions": 20, "seed": 3},
    {"n_users": 301, "n_items": 77, "mean_interactions": 60, "min_interactions": 70, "seed": 4},
    {"n_users": 97, "n_items": 1001, "n_categories": 3, "latent_dim": 2, "mean_interactions": 9.5,
     "min_interactions": 1, "popularity_exponent": 0.7, "taste_strength": 0.5, "category_affinity": 2.0, "seed": 11},
    {"n_users": 1, "n_items": 1, "n_categories": 1, "latent_dim": 1, "min_interactions": 1, "seed": 2},
]


@pytest.mark.parametrize("block_values", [1, 997, synthetic._BLOCK_VALUES])
@pytest.mark.parametrize("parameters", PARAMETERS, ids=range(len(PARAMETERS)))
def test_blocked_generator_gives_the_dense_generators_data(parameters, block_values, monkeypatch):
    monkeypatch.setattr(synthetic, "_BLOCK_VALUES", block_values)  # one user a block, a few, all
    interactions, items = generate_synthetic(**parameters)
    expected_interactions, expected_items = dense_generate_synthetic(**parameters)
    pd.testing.assert_frame_equal(interactions, expected_interactions, check_exact=True)
    pd.testing.assert_frame_equal(items, expected_items, check_exact=True)


def test_the_rest_of_the_stream_follows_the_skipped_uniforms():
    for n_draws in (0, 1, 7, 12_345):
        rng = np.random.default_rng(n_draws)
        rng.integers(0, 10, size=3)  # leaves a buffered 32-bit half-word
        assert rng.bit_generator.state["has_uint32"] == 1
        later = _skip_doubles(rng, n_draws)
        rng.uniform(size=n_draws)
        np.testing.assert_array_equal(later.integers(0, 16, size=9), rng.integers(0, 16, size=9))
        np.testing.assert_array_equal(later.lognormal(size=5), rng.lognormal(size=5))


def test_partial_sort_equals_the_full_argsort_also_with_ties():
    # (Where numpy's sort breaks ties by index, as it does with AVX-512, this passes without the
    # whole-row fallback too; with introsort it needs it.)
    rng = np.random.default_rng(0)
    keys = rng.normal(size=(40, 60))
    keys[:10] = rng.integers(0, 5, size=(10, 60))  # rows full of ties
    keys[10, :] = np.inf
    keys[11, 3] = np.nan
    counts = rng.integers(1, 20, size=40)
    top = _first_of_argsort(keys, counts)
    expected = np.argsort(keys, axis=1)
    for row, count in enumerate(counts):
        np.testing.assert_array_equal(top[row, :count], expected[row, :count])
    np.testing.assert_array_equal(_first_of_argsort(keys, np.full(40, 60)), expected)


def test_memory_grows_with_a_block_of_users_not_with_users_times_items():
    n_users, n_items = 4000, 25_000
    dense_bytes = n_users * n_items * 8  # one float64 [n_users, n_items] array: 800 MB
    tracemalloc.start()
    try:
        interactions, _ = generate_synthetic(n_users=n_users, n_items=n_items, mean_interactions=10.0, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 10
    assert interactions["user"].nunique() == n_users and not interactions.duplicated(["user", "item"]).any()
