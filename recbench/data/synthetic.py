"""A deterministic synthetic dataset: no download, and hard enough that popularity loses.

Users have latent tastes (a category preference plus a latent vector); items have a category,
a long-tail popularity and a latent vector. Each user picks items by the Gumbel-top-k trick over
``taste_strength * <user, item> + log(popularity)``, so popular items are common for everyone
while the personal part is what a good model must learn. Users are drawn a block at a time, so
memory grows with a block of users times the items, never with all users times all items; the data
are those that one dense ``[n_users, n_items]`` draw gives. (A block's ``user @ item`` may differ
from the whole product's in the last bit, as the whole product already does between BLAS thread
counts; the data change only where two scores, or a rating and a half-point, lie within 1e-14.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recbench.errors import require_positive

_BLOCK_VALUES = 1 << 20  # users x items values held at once: blocks of users cover the dense matrix

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

    # The Gumbel noise is one [n_users, n_items] stream of uniforms, drawn a block of users at a time;
    # everything drawn after it comes from a copy of the generator moved past those draws.
    later = _skip_doubles(rng, n_users * n_items)
    sigma = 0.6
    counts = later.lognormal(np.log(mean_interactions) - sigma**2 / 2, sigma, size=n_users)
    counts = np.clip(np.round(counts), min_interactions, n_items).astype(np.int64)  # [n_users]

    item_parts, logit_parts, logit_total = [], [], 0.0
    block = max(1, _BLOCK_VALUES // n_items)  # users per block
    for first in range(0, n_users, block):
        rows = slice(first, min(first + block, n_users))
        logits = (
            taste_strength * user_vectors[rows] @ item_vectors.T
            + category_affinity * np.log(category_taste[rows][:, item_category] * n_categories + 1e-3)
            + np.log(popularity)[None, :]
        )  # [block, n_items]
        logit_total += float(logits.sum())
        gumbel = -np.log(-np.log(rng.uniform(size=logits.shape)))
        top = _first_of_argsort(-(logits + gumbel), counts[rows])  # each row: a sample without replacement
        taken = np.arange(top.shape[1])[None, :] < counts[rows, None]  # [block, max count]
        item_parts.append(top[taken])  # row-major, so aligned with `users`
        logit_parts.append(np.take_along_axis(logits, top, axis=1)[taken])
    users = np.repeat(np.arange(n_users), counts)
    items = np.concatenate(item_parts)
    logit_mean = logit_total / (n_users * n_items)

    # Each user is active over a window; interactions are spread through it in random order.
    start = later.integers(1_500_000_000, 1_600_000_000, size=n_users)
    span = later.integers(86_400, 365 * 86_400, size=n_users)
    timestamps = start[users] + (later.uniform(size=len(users)) * span[users]).astype(np.int64)
    ratings = np.clip(np.round(3.0 + np.concatenate(logit_parts) - logit_mean), 1, 5)

    interactions = pd.DataFrame({
        "user": _ids("u", n_users).take(users),
        "item": _ids("i", n_items).take(items),
        "rating": ratings.astype(np.float32),
        "timestamp": timestamps,
    })
    titles = [f"{_ADJECTIVES[a]} {_NOUNS[b]} {i}" for i, (a, b) in enumerate(
        zip(later.integers(0, len(_ADJECTIVES), n_items), later.integers(0, len(_NOUNS), n_items)))]
    items_frame = pd.DataFrame(
        {"title": titles, "category": [f"category-{c}" for c in item_category]},
        index=pd.Index([f"i{i}" for i in range(n_items)], name="item"),
    )
    return interactions, items_frame


def _skip_doubles(rng: np.random.Generator, n: int) -> np.random.Generator:
    """A copy of ``rng`` in the state that ``rng.uniform(size=n)`` would leave it in.

    A uniform double takes one 64-bit output of PCG64, and uniforms leave the generator's buffered
    32-bit half-word alone; ``advance`` clears that buffer, so it is put back.
    """
    state = rng.bit_generator.state
    moved = np.random.PCG64()
    moved.state = state
    moved.advance(n)
    moved.state = {**moved.state, "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}
    return np.random.Generator(moved)


def _first_of_argsort(keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, axis=1)[:, :max(counts)]``, where row ``r`` is needed to ``counts[r]`` only.

    A partition then a sort of the few smallest keys gives the same columns wherever those keys
    are distinct and the ``counts[r]``-th is below the next; a row with a tie there (probability
    about zero for continuous keys) is sorted whole, so ties fall exactly as before.

    Args:
        keys: ``[B, n]`` sort keys.
        counts: ``[B]`` how many leading columns of each row are used (1 to n).

    Returns:
        ``[B, max(counts)]`` column indices, ascending keys; past ``counts[r]`` any columns.
    """
    k = int(counts.max())
    if k >= keys.shape[1]:
        return np.argsort(keys, axis=1)
    top = np.argpartition(keys, k, axis=1)[:, :k + 1]  # [B, k + 1]: the k + 1 smallest, unordered
    values = np.take_along_axis(keys, top, axis=1)
    order = np.argsort(values, axis=1)
    top, values = np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)
    rising = values[:, 1:] > values[:, :-1]  # [B, k]; NaN compares false, so it counts as a tie
    first_tie = np.where(rising.all(axis=1), k, rising.argmin(axis=1))
    for row in np.flatnonzero(first_tie < counts):
        top[row, :k] = np.argsort(keys[row])[:k]
    return top[:, :k]


def _ids(prefix: str, n: int) -> pd.api.extensions.ExtensionArray:
    """``prefix0 .. prefix{n-1}`` as the string column pandas makes of them; ``take`` shares them."""
    return pd.Series([f"{prefix}{i}" for i in range(n)]).array
