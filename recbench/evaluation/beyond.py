"""Beyond-accuracy metrics of top-K lists: novelty, popularity bias, exposure, diversity, calibration.

Pure functions on whole tensors (no per-user loops), on the device of their inputs. ``top`` is
always the ``[B, K]`` item indices of each user's list, best first. Popularity comes from the
training matrix: ``count[i]`` = training users who interacted with item ``i``.

Definitions (``L`` = a user's list of K items, ``H`` = their known history):

* ``f1@K``         = 2 P R / (P + R) with P = precision@K, R = recall_all@K; 0 when both are 0.
* ``novelty@K``    = mean over L of ``-log2 p(i)``, ``p(i) = max(count[i], 1) / n_users``
  (self-information; an item nobody trained on counts as seen once).
* ``arp@K``        = mean over L of ``count[i]`` (average recommendation popularity,
  Abdollahpouri et al., FLAIRS 2019).
* ``aplt@K``       = share of L in the long tail; the head is the smallest set of most popular items
  (ties by lower index) holding at least 20% of training interactions, the tail the rest (the head
  of the segment metrics, :func:`recbench.evaluation.segments.item_segments`).
* ``pop_lift@K``   = (mean popularity of L - mean popularity of H) / mean popularity of H
  (Abdollahpouri et al., UMAP 2021, per user); NaN for an empty history.
* ``gini@K``       = Gini index of item exposure (how often each catalogue item is listed, zeros
  included): ``sum_j (2j - n - 1) c_(j) / (n sum c)`` over exposures sorted ascending, j = 1..n.
* ``entropy@K``    = Shannon entropy (natural log) of the exposure distribution ``c / sum c``.
* ``head_exposure@K`` = share of all listed items that are head items, beside ``head_interactions``,
  the head's share of training interactions (about 0.2 by construction).
* ``ild@K``        = 1 - mean pairwise cosine similarity of the listed items' feature vectors
  (items without features have a zero vector: similarity 0 with everything).
* ``calibration@K`` = KL(p || q~) (Steck, RecSys 2018) between the genre distribution p of H and
  q~ = (1 - alpha) q + alpha p of L, alpha = 0.01, where an item's genre distribution is its
  multi-hot row divided by its sum and p, q are uniform averages over H and L. NaN when H has no
  item with genres.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from recbench.evaluation.ranking import (
    count_per_row,
    dense_interactions,
    interaction_pairs,
)

HEAD_SHARE = 0.2
CALIBRATION_ALPHA = 0.01


def f1(precision: Tensor, recall: Tensor) -> Tensor:
    """Harmonic mean of precision and recall per user, ``[B]``; 0 where both are 0."""
    total = precision + recall
    return torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-30), torch.zeros_like(total))


def self_information(counts: Tensor, n_users: int) -> Tensor:
    """``-log2 p(i)`` with ``p(i) = max(count, 1) / n_users``; counts ``[n_items]`` -> ``[n_items]``."""
    return -torch.log2(counts.float().clamp(min=1.0) / n_users)


def list_mean(top: Tensor, values: Tensor) -> Tensor:
    """Mean of a per-item value over each list: top ``[B, K]``, values ``[n_items]`` -> ``[B]``."""
    return values[top].float().mean(dim=1)


def history_popularity(history: Tensor, counts: Tensor) -> Tensor:
    """Mean training popularity of each user's known items, ``[B]`` (NaN for an empty history).

    Args:
        history: ``[B, n_items]`` known items, sparse COO or dense (nonzero = known).
        counts: ``[n_items]`` training popularity (integer counts).
    """
    known = interaction_pairs(history)  # [2, nnz]: the history's cost, not B x n_items
    n_known = count_per_row(known, history.shape[0])  # [B]
    # Summed in float64, exact for integer counts, then rounded once (as float32 is, where exact).
    total = count_per_row(known, history.shape[0], counts[known[1]].double())  # [B]
    return total.float() / n_known  # NaN where n_known = 0


def popularity_lift(top: Tensor, profile: Tensor, counts: Tensor) -> Tensor:
    """Per-user popularity lift of the list over the history, ``[B]`` (NaN for an empty history).

    Args:
        top: ``[B, K]`` listed items.
        profile: ``[B]`` the history's mean popularity (:func:`history_popularity`).
        counts: ``[n_items]`` training popularity.
    """
    return (list_mean(top, counts) - profile) / profile


def exposure(top: Tensor, n_items: int) -> Tensor:
    """How often each item is listed: top ``[B, K]`` -> float ``[n_items]``."""
    counts = torch.zeros(n_items, device=top.device)
    return counts.index_add_(0, top.reshape(-1), torch.ones(top.numel(), device=top.device))


def gini(exposure_counts: Tensor) -> float:
    """Gini index of an exposure vector ``[n_items]`` (0: equal exposure; -> 1: one item gets all)."""
    values = torch.sort(exposure_counts.double()).values
    n, total = len(values), values.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = torch.arange(1, n + 1, dtype=torch.float64, device=values.device)
    return float(((2 * ranks - n - 1) * values).sum() / (n * total))


def entropy(exposure_counts: Tensor) -> float:
    """Shannon entropy in nats of the exposure distribution; ``log(n_items)`` when uniform."""
    total = exposure_counts.double().sum()
    if total <= 0:
        return float("nan")
    p = exposure_counts.double() / total
    return float(-(p[p > 0] * p[p > 0].log()).sum())


def unit_rows(features: Tensor) -> Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero): ``[n, d]`` -> ``[n, d]``."""
    return features.float() / features.float().norm(dim=1, keepdim=True).clamp(min=1e-12)


def intra_list_diversity(top: Tensor, unit_features: Tensor) -> Tensor:
    """1 - mean pairwise cosine similarity within each list, ``[B]`` (0 for a list of one item).

    Args:
        top: ``[B, K]`` listed items.
        unit_features: ``[n_items, d]`` item feature rows of unit norm (see :func:`unit_rows`).
    """
    k = top.shape[1]
    if k < 2:
        return torch.zeros(top.shape[0], device=top.device)
    listed = unit_features[top]  # [B, K, d]
    sums = listed.sum(dim=1)  # [B, d]
    # sum over all ordered pairs i != j of cos(i, j) = |sum_i f_i|^2 - sum_i |f_i|^2
    pair_sum = (sums * sums).sum(dim=1) - (listed * listed).sum(dim=(1, 2))  # [B]
    return 1.0 - pair_sum / (k * (k - 1))


def genre_distribution(features: Tensor) -> Tensor:
    """Each item's genre distribution: multi-hot ``[n_items, G]`` rows divided by their sums."""
    features = features.float().clamp(min=0)
    return features / features.sum(dim=1, keepdim=True).clamp(min=1e-12)


def calibration_kl(top: Tensor, history: Tensor, genres: Tensor, alpha: float = CALIBRATION_ALPHA) -> Tensor:
    """Steck's miscalibration KL(p || (1 - alpha) q + alpha p) per user, ``[B]`` (nats).

    Args:
        top: ``[B, K]`` listed items.
        history: ``[B, n_items]`` known items, sparse COO or dense (nonzero = known).
        genres: ``[n_items, G]`` per-item genre distributions (see :func:`genre_distribution`).
        alpha: smoothing that keeps the divergence finite.
    """
    known = dense_interactions(history).gt(0).float()  # [B, n_items]
    has_genres = (genres.sum(dim=1) > 0).float()  # [n_items]
    n_known = known @ has_genres  # [B]: history items that have genres
    p = (known @ genres) / n_known[:, None]  # [B, G]; NaN rows where n_known = 0
    q = genres[top].mean(dim=1)  # [B, G]
    q_smooth = (1 - alpha) * q + alpha * p
    terms = torch.where(p > 0, p * (p / q_smooth).log(), torch.zeros_like(p))
    kl = terms.sum(dim=1)
    return torch.where(n_known > 0, kl, torch.full_like(kl, math.nan))
