"""Top-K ranking in whole tensors, with ties broken by the lower item index."""

from __future__ import annotations

import torch
from torch import Tensor


def top_k(scores: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` best items of each row, best first.

    ``torch.topk`` alone picks among tied scores in an unspecified, device-dependent order, which
    would make metrics differ between CPU and GPU. Here every item scoring above the k-th value
    is kept, the remaining places go to the tied items with the lowest indices, and the chosen
    ``k`` are ordered by score with a stable sort, so equal scores stay in index order.

    Args:
        scores: ``[B, n_items]``; masked items should be ``-inf``.
        k: how many items to return (at most ``n_items``).

    Returns:
        int64 ``[B, k]``.
    """
    threshold = torch.topk(scores, k, dim=1).values[:, -1:]  # [B, 1]
    above = scores > threshold  # [B, n_items]
    tied = scores == threshold
    places_left = k - above.sum(dim=1, keepdim=True)  # [B, 1]
    chosen = above | (tied & (tied.cumsum(dim=1) <= places_left))  # exactly k per row
    items = chosen.nonzero()[:, 1].view(scores.shape[0], k)  # ascending index within each row
    order = torch.sort(scores.gather(1, items), dim=1, descending=True, stable=True).indices
    return items.gather(1, order)


def mask_known(scores: Tensor, history: Tensor) -> Tensor:
    """Scores with the users' known items set to ``-inf`` so they are never recommended.

    Args:
        scores: ``[B, n_items]``.
        history: ``[B, n_items]``, nonzero where the user already interacted.
    """
    return scores.masked_fill(history > 0, float("-inf"))
