"""Top-K ranking in whole tensors, with ties broken by the lower item index."""

from __future__ import annotations

import torch
from torch import Tensor


def top_k(scores: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` best items of each row, best first, ties broken by the lower index.

    ``torch.topk`` alone picks among tied scores in an unspecified, device-dependent order, which
    would make metrics differ between CPU and GPU. One ``topk`` of ``k + 1`` decides the set
    unless the k-th and (k+1)-th scores tie; those rows (rare with real-valued scores) go through
    :func:`top_k_exact`. Within the set, a stable sort orders equal scores by index.
    One boolean per batch is read on the host, to skip the exact path when no row needs it.

    Args:
        scores: ``[B, n_items]``; masked items should be ``-inf``.
        k: how many items to return (at most ``n_items``).

    Returns:
        int64 ``[B, k]``.
    """
    n_items = scores.shape[1]
    if k >= n_items:
        return top_k_exact(scores, k)
    values, items = torch.topk(scores, k + 1, dim=1)  # [B, k + 1], sorted by score
    tied_at_cut = values[:, k - 1] == values[:, k]  # [B]
    values, items = values[:, :k], items[:, :k]
    by_index = items.sort(dim=1)  # index order first, so that the stable sort keeps it among ties
    order = torch.sort(values.gather(1, by_index.indices), dim=1, descending=True, stable=True).indices
    top = by_index.values.gather(1, order)
    if bool(tied_at_cut.any()):
        rows = tied_at_cut.nonzero().squeeze(1)
        top[rows] = top_k_exact(scores[rows], k)
    return top


def top_k_exact(scores: Tensor, k: int) -> Tensor:
    """:func:`top_k` by whole-row passes: every item above the k-th value, then the lowest-indexed
    tied items, ordered by a stable sort. Exact whatever the ties, but several passes over
    ``[B, n_items]``. Shapes as in :func:`top_k`.
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
    """Scores with the users' known items set to ``-inf`` (in place) so they are never recommended.

    Args:
        scores: ``[B, n_items]``, written in place.
        history: ``[2, nnz]`` (row in the batch, item) of the known items.
    """
    return scores.index_put_((history[0], history[1]), torch.tensor(float("-inf"), device=scores.device))


def hits_at(top: Tensor, target: Tensor, n_items: int) -> Tensor:
    """Whether each recommended item is a held-out item, without a dense target matrix.

    Args:
        top: ``[B, k]`` recommended items.
        target: ``[2, nnz]`` (row in the batch, item) of the held-out items.
        n_items: number of items (the key of ``(row, item)`` is ``row * n_items + item``).

    Returns:
        float ``[B, k]``, 1 at a hit.
    """
    keys = (target[0] * n_items + target[1]).sort().values  # [nnz]
    if len(keys) == 0:
        return torch.zeros(top.shape, device=top.device)
    query = torch.arange(len(top), device=top.device)[:, None] * n_items + top  # [B, k]
    position = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    return (keys[position] == query).float()


def as_index(rows: Tensor) -> Tensor:
    """The nonzero entries of a dense ``[B, n_items]`` tensor as ``[2, nnz]`` (row, item)."""
    return rows.nonzero().T


def densify(index: Tensor, n_rows: int, n_items: int) -> Tensor:
    """The dense 0/1 float rows ``[n_rows, n_items]`` of ``[2, nnz]`` (row, item), on its device."""
    out = torch.zeros(n_rows, n_items, device=index.device)
    out[index[0], index[1]] = 1.0
    return out
