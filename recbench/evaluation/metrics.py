"""Per-user ranking metrics from a top-K list and the held-out items.

Definitions (binary relevance; ``T`` = the user's test items, ``hit_i`` = item at rank i in T):

* ``precision@K`` = hits / K
* ``recall@K``    = hits / min(K, |T|)    (reaches 1 when the list is perfect)
* ``recall_all@K`` = hits / |T|           (the classic recall many papers report)
* ``hitrate@K``   = 1 if any hit
* ``ndcg@K``      = sum_i hit_i / log2(i + 2), divided by the same sum for min(K, |T|) hits
* ``mrr@K``       = 1 / (rank of the first hit + 1), 0 without a hit
* ``map@K``       = sum_i precision@(i+1) * hit_i / min(K, |T|)

``coverage@K`` is not per user: the share of all items that appear in anyone's top K.
"""

from __future__ import annotations

import torch
from torch import Tensor

PER_USER_METRICS = ("precision", "recall", "recall_all", "hitrate", "ndcg", "mrr", "map")


def per_user_metrics(hits: Tensor, n_relevant: Tensor, ks: list[int]) -> dict[str, Tensor]:
    """Every per-user metric for every K.

    Args:
        hits: ``[B, L]`` float, 1 where the item at that rank is a held-out item; ``L <= max(ks)``
            (shorter when there are fewer items than K).
        n_relevant: ``[B]`` number of held-out items per user (>= 1).
        ks: the cut-offs.

    Returns:
        ``{"ndcg@10": [B], ...}`` for each metric in :data:`PER_USER_METRICS` and each K.
    """
    kmax = max(ks)
    if hits.shape[1] < kmax:
        # Fewer items than the largest K: the ranks past the last item hold nothing, never a hit.
        hits = torch.nn.functional.pad(hits, (0, kmax - hits.shape[1]))
    ranks = torch.arange(kmax, device=hits.device, dtype=hits.dtype)  # [kmax]
    discounts = 1.0 / torch.log2(ranks + 2.0)  # [kmax]
    cum_hits = hits.cumsum(dim=1)  # [B, kmax]
    precision_at_rank = cum_hits / (ranks + 1.0)  # [B, kmax]
    first_hit = torch.where(hits.any(dim=1), hits.argmax(dim=1), kmax)  # [B]
    n_relevant = n_relevant.to(hits.dtype)
    ideal_cum = discounts.cumsum(dim=0)  # [kmax]: ideal DCG for 1..kmax relevant items

    # Every K at once where a metric is elementwise; the sums over ranks stay one per K.
    # Filled on the device: a tensor made from the list would be a copy from the host, a sync on GPUs.
    cuts = torch.stack([torch.full((), k, device=hits.device) for k in ks])  # [K] int64
    n_hits = cum_hits[:, cuts - 1]  # [B, K]
    denominator = torch.minimum(n_relevant[:, None], cuts.to(hits.dtype))  # [B, K]
    ideal = ideal_cum[(denominator - 1).long()]  # [B, K]
    columns = {
        "precision": n_hits / cuts,
        "recall": n_hits / denominator,
        "recall_all": n_hits / n_relevant[:, None],
        "hitrate": (n_hits > 0).to(hits.dtype),
        "ndcg": torch.stack([(hits[:, :k] * discounts[:k]).sum(dim=1) for k in ks], dim=1) / ideal,
        "mrr": torch.where(first_hit[:, None] < cuts, 1.0 / (first_hit[:, None] + 1.0), 0.0).to(hits.dtype),
        "map": torch.stack([(precision_at_rank[:, :k] * hits[:, :k]).sum(dim=1) for k in ks], dim=1) / denominator,
    }
    return {f"{name}@{k}": columns[name][:, column] for column, k in enumerate(ks) for name in PER_USER_METRICS}
