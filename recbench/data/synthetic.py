"""A deterministic synthetic dataset: no download, and hard enough that popularity loses.

Items have a category, a long-tail (Zipf) popularity and a latent vector. There are
``4 * latent_dim`` taste prototypes; prototype ``k`` picks item ``i`` with probability
``phi_k(i) ∝ popularity(i) * exp(taste_strength * <prototype_k, item_i>)``. A user has a latent
vector (which prototypes they lean to, ``theta_u(k) ∝ exp(2 <user_u, prototype_k>)``) and a
preference over categories ``psi_u``. Each interaction draws a prototype and a category jointly,
``P(k, c | u) ∝ theta_u(k) * (psi_u(c) * n_categories)^category_affinity * phi_k(category c)``,
then an item of that category from ``phi_k``. Popular items are common for everyone while the
personal part is what a good model must learn.

Everything is sampled sparsely: the cost grows with the number of interactions, never with
``n_users * n_items`` (ML-20M's size, 138k x 27k with 16M interactions, was generated on a loaded
2-core machine). Items are drawn with replacement and repeated draws are dropped, in rounds,
until each user has their number of distinct items; a user whose taste cannot supply enough
distinct items is topped up with uniformly drawn ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recbench.errors import RecbenchError, require_positive

_ADJECTIVES = ["Silent", "Golden", "Lost", "Electric", "Hidden", "Broken", "Wild", "Quiet", "Crimson",
               "Frozen", "Last", "Bright", "Northern", "Paper", "Iron", "Velvet"]
_NOUNS = ["River", "Garden", "Machine", "Summer", "City", "Signal", "Harbor", "Forest", "Letter",
          "Mirror", "Road", "Engine", "Island", "Echo", "Tower", "Orchard"]
_TASTE_ROUNDS = 6  # rounds of drawing from the user's taste (1x, 2x, ... 32x what is missing), then uniform
_MAX_ROUNDS = 1000
_USER_CHUNK = 8192  # users whose [chunk, prototypes * categories] joint is held at once
_LEANING = 2.0  # theta_u(k) ∝ exp(_LEANING <user_u, prototype_k>): most users lean to a few prototypes


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
        latent_dim: size of the hidden taste vectors (there are ``4 * latent_dim`` prototypes).
        mean_interactions: mean number of interactions per user (log-normal spread).
        min_interactions: every user has at least this many interactions.
        popularity_exponent: Zipf exponent of item popularity (1.0 gives a long tail).
        taste_strength: weight of the personal taste against popularity.
        category_affinity: weight of a user's preferred categories.
        seed: the generator's seed; the same seed gives the same data.

    Returns:
        ``(interactions, items)``: interactions with columns user, item, rating, timestamp
        (original ids ``u0..``/``i0..``, as categoricals so that millions of rows stay small),
        and items indexed by item id with ``title`` and ``category``.
    """
    for name, value in [("n_users", n_users), ("n_items", n_items), ("n_categories", n_categories),
                        ("latent_dim", latent_dim), ("min_interactions", min_interactions)]:
        require_positive(f"dataset.{name}", value, integer=True)
    require_positive("dataset.mean_interactions", mean_interactions)
    if min_interactions > n_items:
        raise RecbenchError(f"dataset.min_interactions={min_interactions} exceeds dataset.n_items={n_items}: "
                            "a user cannot have more distinct items than there are")
    rng = np.random.default_rng(seed)
    n_topics = 4 * latent_dim

    item_category = rng.integers(0, n_categories, size=n_items)  # [n_items]
    popularity = 1.0 / np.arange(1, n_items + 1) ** popularity_exponent
    popularity = popularity[rng.permutation(n_items)]  # popular items spread over categories
    item_vectors = rng.normal(size=(n_items, latent_dim)) / np.sqrt(latent_dim)  # [n_items, d]
    prototypes = rng.normal(size=(n_topics, latent_dim))  # [K, d]
    # phi_k over items, in category order so that each category is one contiguous segment.
    order = np.argsort(item_category, kind="stable")  # [n_items]
    starts = np.searchsorted(item_category[order], np.arange(n_categories + 1))  # [C + 1]
    logits = taste_strength * prototypes @ item_vectors[order].T + np.log(popularity[order])  # [K, n_items]
    phi = np.exp(logits - logits.max(axis=1, keepdims=True))
    phi /= phi.sum(axis=1, keepdims=True)
    cumulative = np.concatenate([np.zeros((n_topics, 1)), phi.cumsum(axis=1)], axis=1)  # [K, n_items + 1]
    segment_mass = cumulative[:, starts[1:]] - cumulative[:, starts[:-1]]  # [K, C]: phi_k(category c)
    shifted = (cumulative + np.arange(n_topics)[:, None]).ravel()  # [K * (n_items + 1)], increasing

    user_vectors = rng.normal(size=(n_users, latent_dim))  # [n_users, d]
    category_taste = rng.dirichlet(np.full(n_categories, 0.3), size=n_users)  # [n_users, C]
    sigma = 0.6
    counts = rng.lognormal(np.log(mean_interactions) - sigma**2 / 2, sigma, size=n_users)
    counts = np.clip(np.round(counts), min_interactions, n_items).astype(np.int64)  # [n_users]

    def draw_from_taste(users: np.ndarray) -> np.ndarray:
        """One item per entry of ``users`` (sorted), from each user's taste, ``[len(users)]``."""
        items = np.empty(len(users), dtype=np.int64)
        bounds = np.searchsorted(users, np.arange(0, n_users + _USER_CHUNK, _USER_CHUNK))
        for first, last in zip(bounds[:-1], bounds[1:]):  # chunks of users, not single users
            if first == last:
                continue
            chunk = users[first:last]
            local, local_users = np.unique(chunk, return_inverse=True)
            theta = _LEANING * user_vectors[local] @ prototypes.T  # [b, K]
            theta = np.exp(theta - theta.max(axis=1, keepdims=True))
            pull = (category_taste[local] * n_categories + 1e-3) ** category_affinity  # [b, C]
            joint = (theta[:, :, None] * pull[:, None, :] * segment_mass[None]).reshape(len(local), -1)
            topic_category = _inverse_cdf(joint, local_users, rng)  # [n] in 0..K*C-1
            topic, category = np.divmod(topic_category, n_categories)
            # An item of that category from phi_topic: inverse CDF inside the category's segment.
            low = cumulative[topic, starts[category]]
            high = cumulative[topic, starts[category + 1]]
            targets = low + rng.uniform(size=len(chunk)) * (high - low)
            # Row k's CDF shifted by k makes one increasing array: one searchsorted for every topic
            # (with sorted queries, which numpy's binary search walks much faster).
            queries = topic + targets
            sorted_queries = np.argsort(queries)
            within = np.empty(len(queries), dtype=np.int64)
            within[sorted_queries] = np.searchsorted(shifted, queries[sorted_queries], side="right")
            within -= topic * (n_items + 1) + 1
            items[first:last] = order[np.clip(within, starts[category], starts[category + 1] - 1)]
        return items

    users, items = _distinct_draws(counts, n_items, draw_from_taste, rng)

    # Each user is active over a window; interactions are spread through it in random order.
    start = rng.integers(1_500_000_000, 1_600_000_000, size=n_users)
    span = rng.integers(86_400, 365 * 86_400, size=n_users)
    timestamps = start[users] + (rng.uniform(size=len(users)) * span[users]).astype(np.int64)
    # Ratings follow the user's affinity to the item (their prototype mix against the item vector).
    affinity = _affinity(users, items, user_vectors, prototypes, item_vectors)  # [nnz]
    ratings = np.clip(np.round(3.5 + (affinity - affinity.mean()) / (affinity.std() + 1e-9)), 1, 5)

    interactions = pd.DataFrame({
        "user": _string_ids("u", users, n_users),
        "item": _string_ids("i", items, n_items),
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


def _inverse_cdf(weights: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column per entry of ``rows``, drawn ∝ ``weights[row]``; ``weights`` is ``[R, M]``."""
    cumulative = weights.cumsum(axis=1)
    cumulative /= cumulative[:, -1:]
    # Row r's CDF shifted by r makes one increasing array: one searchsorted serves every row.
    flat = (cumulative + np.arange(len(weights))[:, None]).ravel()
    column = np.searchsorted(flat, rows + rng.uniform(size=len(rows)), side="right") - rows * weights.shape[1]
    return np.clip(column, 0, weights.shape[1] - 1)


def _distinct_draws(counts: np.ndarray, n_items: int, draw, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``counts[u]`` distinct items per user: rounds of draws with repeats dropped.

    Args:
        counts: ``[n_users]`` items wanted per user (at most ``n_items``).
        draw: ``draw(users) -> items`` for a sorted user array (the taste model).

    Returns:
        ``(users, items)``, int64 ``[sum(counts)]`` each, sorted by user, in draw order within a user.
    """
    need = counts.copy()
    taken = np.empty(0, dtype=np.int64)  # sorted keys user * n_items + item
    kept_users, kept_items = [], []
    for round_ in range(_MAX_ROUNDS):
        wanting = np.flatnonzero(need > 0)
        if len(wanting) == 0:
            break
        # Over-draw, more each round: what is left is what repeats keep hiding.
        # (at most about 2 x all interactions per round, which bounds the cost at any size).
        growth = min(2 ** round_, max(1, 2 * int(counts.sum()) // int(need.sum())))
        n_draws = need[wanting] * (growth if round_ < _TASTE_ROUNDS else 2) + 2
        users = np.repeat(wanting, n_draws)
        items = draw(users) if round_ < _TASTE_ROUNDS else rng.integers(0, n_items, size=len(users))
        distinct, first = np.unique(users * n_items + items, return_index=True)  # sorted keys
        if len(taken):
            position = np.minimum(np.searchsorted(taken, distinct), len(taken) - 1)
            first = first[taken[position] != distinct]  # drop pairs already taken
        first.sort()  # the first draw of each new distinct pair, in draw order (grouped by user)
        keys = users[first] * n_items + items[first]
        users, items = users[first], items[first]
        rank = np.arange(len(users)) - np.searchsorted(users, users, side="left")  # index within the user
        keep = rank < need[users]
        users, items = users[keep], items[keep]
        need -= np.bincount(users, minlength=len(need))
        kept_users.append(users)
        kept_items.append(items)
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        taken = np.sort(np.concatenate([taken, np.sort(keys[keep])]), kind="stable")
    else:
        raise RecbenchError("the synthetic generator could not draw enough distinct items: lower "
                            "dataset.mean_interactions or raise dataset.n_items")
    users, items = np.concatenate(kept_users), np.concatenate(kept_items)
    order = np.argsort(users, kind="stable")
    return users[order], items[order]


def _affinity(users: np.ndarray, items: np.ndarray, user_vectors: np.ndarray, prototypes: np.ndarray,
              item_vectors: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """``<sum_k theta_u(k) prototype_k, item_i>`` per interaction ``[nnz]``, a chunk at a time."""
    theta = _LEANING * user_vectors @ prototypes.T  # [n_users, K]
    theta = np.exp(theta - theta.max(axis=1, keepdims=True))
    taste = (theta / theta.sum(axis=1, keepdims=True)) @ prototypes  # [n_users, d]
    out = np.empty(len(users))
    for first in range(0, len(users), chunk):
        part = slice(first, first + chunk)
        out[part] = np.einsum("nd,nd->n", taste[users[part]], item_vectors[items[part]])
    return out


def _string_ids(prefix: str, codes: np.ndarray, n: int) -> pd.Categorical:
    """``prefix + code`` per row as a categorical (one string per id, not per row)."""
    return pd.Categorical.from_codes(codes, categories=pd.Index([f"{prefix}{i}" for i in range(n)]))
