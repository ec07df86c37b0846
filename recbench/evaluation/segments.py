"""Metrics by item segment and rankings restricted to a candidate set.

Every run reports, beside the overall metrics, the same metrics restricted to the targets in
four item segments, keyed ``stage/SEGMENT/metric@k`` (``test/cold/ndcg@10``):

* ``warm``: items with at least one training interaction; ``cold``: items with none;
* ``head``: the most popular items that together hold the top ``head_share`` (20%) of training
  interactions; ``tail``: every other item (cold items included).

A user's segment metric ranks exactly as the overall metric does (same list, same candidates) but
counts only the targets in the segment as relevant; users without a target in the segment are
left out of its mean. Under ``split=cold_items`` the stage's cold items are the candidate set of
the main figures (``test/ndcg@10``) and ``test/all/ndcg@10`` ranks the same targets among all items.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from recbench.evaluation.metrics import per_user_metrics
from recbench.evaluation.ranking import count_per_row

SEGMENTS = ("warm", "cold", "head", "tail")
ALL_ITEMS = "all"  # the key part of the all-items figures of a restricted-candidate protocol


def item_segments(train_counts: np.ndarray, head_share: float = 0.2) -> dict[str, np.ndarray]:
    """bool ``[n_items]`` masks of each segment, from each item's training interactions ``[n_items]``.

    The head is the smallest set of most-interacted items (ties by lower index) whose interactions
    reach ``head_share`` of all training interactions.
    """
    counts = np.asarray(train_counts, dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    before = np.cumsum(counts[order]) - counts[order]  # interactions of the more popular items
    head = np.zeros(len(counts), dtype=bool)
    head[order[(before < head_share * counts.sum()) & (counts[order] > 0)]] = True
    warm = counts > 0
    return {"warm": warm, "cold": ~warm, "head": head, "tail": ~head}


def segment_metrics(top: Tensor, hits: Tensor, target: Tensor, masks: Tensor,
                    ks: list[int]) -> tuple[list[str], Tensor]:
    """Per-user metrics of each segment for one ranked batch.

    Args:
        top: int64 ``[B, kmax]`` ranked items.
        hits: bool ``[B, kmax]``, True where the listed item is a target.
        target: int64 ``[2, nnz]`` (row, item) pairs of the targets.
        masks: bool ``[S, n_items]``, one row per segment (in :data:`SEGMENTS` order).
        ks: the cut-offs.

    Returns:
        ``(names, values)``: names ``SEGMENT/metric@k`` and values ``[B, S * n_metrics]``, NaN
        where the user has no target in the segment.
    """
    n_segments, batch = masks.shape[0], top.shape[0]
    # Nothing of size S x B x n_items: hits come from the top-k lists, counts from the target pairs.
    hits = (hits.unsqueeze(0) & masks[:, top]).float()  # [S, B, kmax]
    n_relevant = count_per_row(target, batch, masks[:, target[1]].float())  # [S, B]
    metrics = per_user_metrics(hits.reshape(n_segments * batch, -1), n_relevant.reshape(-1).clamp(min=1), ks)
    values = torch.stack(list(metrics.values()), dim=1).reshape(n_segments, batch, -1)  # [S, B, M]
    values = values.masked_fill((n_relevant == 0).unsqueeze(2), float("nan"))
    names = [f"{segment}/{name}" for segment in SEGMENTS[:n_segments] for name in metrics]
    return names, values.permute(1, 0, 2).reshape(batch, -1)


def restrict(scores: Tensor, candidates: Tensor | None) -> Tensor:
    """Scores with every item outside ``candidates`` (bool ``[n_items]``) set to ``-inf``."""
    if candidates is None:
        return scores
    return scores.masked_fill(~candidates.unsqueeze(0), float("-inf"))


def segment_masks(train_counts: np.ndarray, head_share: float, device: torch.device | str = "cpu") -> Tensor:
    """bool ``[len(SEGMENTS), n_items]`` on ``device``."""
    segments = item_segments(train_counts, head_share)
    return torch.from_numpy(np.stack([segments[name] for name in SEGMENTS])).to(device)
