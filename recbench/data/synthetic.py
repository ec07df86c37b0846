"""A deterministic synthetic dataset: no download, and hard enough that popularity loses.

Users have latent tastes (a category preference plus a latent vector); items have a category,
a long-tail popularity and a latent vector. Each user picks items by the Gumbel-top-k trick over
``taste_strength * <user, item> + log(popularity)``, so popular items are common for everyone
while the personal part is what a good model must learn. All draws happen in whole arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recbench.errors import require_positive

_ADJECTIVES = ["Silent", "Golden", "Lost", "Electric", "Hidden", "Broken", "Wild", "Quiet", "Crimson",
               "Frozen", "Last", "Bright", "Northern", "Paper", "Iron", "Velvet"]
_NOUNS = ["River", "Garden", "Machine", "Summer", "City", "Signal", "Harbor", "Forest", "Letter",
          "Mirror", "Road", "Engine", "Island", "Echo", "Tower", "Orchard"]


def generate_synthetic(
    n_users: int = 1000,
    n_items: int = 500,
    n_categories: int = 10,
    latent_dim: int = 8,
    mean_interactions: float = 40.0,
    min_interactions: int = 5,
    popularity_exponent: float = 1.5,
    taste_strength: float = 3.0,
    category_affinity: float = 1.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate interactions and item side information.

    Args:
        n_users: number of users.
        n_items: number of items.
        n_categories: number of item categories.
        latent_dim: size of the hidden taste vectors.
        mean_interactions: mean number of interactions per user (log-normal spread).
        min_interactions: every user has at least this many interactions.
        popularity_exponent: Zipf exponent of item popularity (1.0 gives a long tail).
        taste_strength: weight of the personal taste against popularity.
        category_affinity: weight of a user's preferred categories.
        seed: the generator's seed; the same seed gives the same data.

    Returns:
        ``(interactions, items)``: interactions with columns user, item, rating, timestamp
        (original ids are ``u0..``/``i0..``), and items indexed by item id with ``title`` and
        ``category``.
    """
    for name, value in [("n_users", n_users), ("n_items", n_items), ("n_categories", n_categories),
                        ("latent_dim", latent_dim), ("min_interactions", min_interactions)]:
        require_positive(f"dataset.{name}", value, integer=True)
    require_positive("dataset.mean_interactions", mean_interactions)
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

    # Each user is active over a window; interactions are spread through it in random order.
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
