"""Top-K ranking in whole tensors (ties broken by the lower item index), and the two layouts of a
batch's known and held-out items.

An evaluation batch holds each user's history and targets as a sparse COO tensor ``[B, n_items]``
(see :class:`~recbench.evaluation.evaluator.EvaluationBatches`): its (row, item) pairs are all the
evaluator reads, so masking and hits cost the batch's interactions, not ``B x n_items``. Dense
``[B, n_items]`` rows (nonzero = an interaction) are accepted everywhere too, for callers that
have them.
"""

from __future__ import annotations

import torch
from torch import Tensor


def top_k(scores: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` best items of each row, best first; equal scores in item order.

    ``torch.topk`` alone picks among tied scores in an unspecified, device-dependent order, which
    would make metrics differ between CPU and GPU. On CPU one ``topk`` of ``k + 1`` decides the
    list of every row whose k-th and (k+1)-th scores differ (a small stable sort orders equal
    scores within the lists, when there are any); the rare rows tied at the cut are ranked again
    by :func:`top_k_by_key`. Reading those flags on the host costs nothing on CPU; on other
    devices it would wait for the device after every batch, so every row goes through
    :func:`top_k_by_key` there, which never syncs. Both give the same lists.

    Args:
        scores: ``[B, n_items]``; masked items should be ``-inf``. NaN scores (which the
            evaluator reports as an error) may rank anywhere.
        k: how many items to return (at most ``n_items``).

    Returns:
        int64 ``[B, k]``.
    """
    if scores.device.type != "cpu" or k >= scores.shape[1]:
        return top_k_by_key(scores, k)
    values, items = torch.topk(scores, k + 1, dim=1)  # [B, k + 1], best first
    tied_at_cut = values[:, k - 1] == values[:, k]  # [B]: the list's last place is shared
    values, top = values[:, :k], items[:, :k]
    if bool((values[:, 1:] == values[:, :-1]).any()):  # equal scores within some list
        by_index = top.sort(dim=1)  # item order first, which the stable sort keeps among ties
        order = torch.sort(values.gather(1, by_index.indices), dim=1, descending=True, stable=True).indices
        top = by_index.values.gather(1, order)
    if bool(tied_at_cut.any()):
        rows = tied_at_cut.nonzero().squeeze(1)
        top[rows] = top_k_by_key(scores[rows], k)
    return top


def top_k_by_key(scores: Tensor, k: int) -> Tensor:
    """:func:`top_k` as one ``topk`` of int64 keys that order by score, then by lower index.

    A float32's bits, read as int32 with the magnitude bits of negative numbers flipped, order
    as the floats do; shifted up 32 bits, the low half holds the reversed item index, so no two
    keys are equal and the largest k are exactly the list. No host sync; about twice the work
    of a float ``topk``. Shapes as in :func:`top_k`.
    """
    n_items = scores.shape[1]
    # + 0.0 turns -0.0 into 0.0 (equal as floats, not as bits); NaN goes below every score.
    bits = torch.nan_to_num(scores.float() + 0.0, nan=float("-inf")).view(torch.int32)  # [B, n_items]
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)
    reversed_index = (2**32 - 1) - torch.arange(n_items, device=scores.device)  # [n_items]
    keys = ordered.long() * 2**32 + reversed_index  # [B, n_items]
    return torch.topk(keys, k, dim=1).indices


def interaction_pairs(rows: Tensor) -> Tensor:
    """The (row, item) pairs of a batch's interactions, int64 ``[2, nnz]``, sorted row-major.

    Args:
        rows: ``[B, n_items]``, sparse COO (its stored entries are the interactions) or dense
            (nonzero = an interaction).
    """
    if rows.is_sparse:
        return (rows if rows.is_coalesced() else rows.coalesce()).indices()
    return rows.gt(0).nonzero().T


def dense_interactions(rows: Tensor) -> Tensor:
    """``rows`` ``[B, n_items]`` as a dense float tensor on its device (as models score from it)."""
    return rows.to_dense() if rows.is_sparse else rows


def mask_known(scores: Tensor, history: Tensor) -> Tensor:
    """Scores with the users' known items set to ``-inf`` so they are never recommended (a copy).

    Args:
        scores: ``[B, n_items]``.
        history: ``[B, n_items]`` known items, sparse COO or dense (nonzero = known).
    """
    if history.is_sparse:
        rows, items = interaction_pairs(history)
        return scores.index_put((rows, items), scores.new_full((), float("-inf")))
    return scores.masked_fill(history > 0, float("-inf"))


def hits_at(top: Tensor, target: Tensor, n_items: int) -> Tensor:
    """Whether each listed item is a held-out item, from the target pairs alone.

    Args:
        top: ``[B, k]`` listed items.
        target: int64 ``[2, nnz]`` (row, item) pairs of the held-out items.
        n_items: number of items (a pair's key is ``row * n_items + item``).

    Returns:
        bool ``[B, k]``.
    """
    keys = (target[0] * n_items + target[1]).sort().values  # [nnz]
    if not len(keys):
        return torch.zeros(top.shape, dtype=torch.bool, device=top.device)
    query = torch.arange(len(top), device=top.device)[:, None] * n_items + top  # [B, k]
    found = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    return keys[found] == query


def count_per_row(pairs: Tensor, n_rows: int, weights: Tensor | None = None) -> Tensor:
    """float ``[n_rows]``: the pairs of each row (``pairs`` ``[2, nnz]``), or the sum of their
    ``weights`` ``[..., nnz]`` (then ``[..., n_rows]``). Exact for integer counts; no host sync."""
    if weights is None:
        weights = torch.ones(pairs.shape[1], device=pairs.device)
    out = torch.zeros(*weights.shape[:-1], n_rows, dtype=weights.dtype, device=pairs.device)
    return out.index_add_(out.dim() - 1, pairs[0], weights)
