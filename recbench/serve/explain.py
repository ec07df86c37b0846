"""Top-K lists for one user and why each item is on them.

* Models linear in the history (``score = history @ W``: EASE, SLIM, ItemKNN, PureSVD) are explained
  exactly: history item ``j`` contributes ``W[j, i]`` to item ``i``'s score, and the contributions of
  all history items sum to the score. ``W[j, :]`` is the model's score for a history holding only
  ``j``, so the contributions of a whole history are one batched ``score`` call on one-hot rows.
* Models with item embeddings (MF, GMF, MLP, iALS...) are explained approximately: the history
  items nearest to the recommended item by cosine similarity of their item vectors.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recbench.errors import RecbenchError, require
from recbench.evaluation.ranking import mask_known, top_k
from recbench.plugin import linear_in_history

ITEM_VECTOR_ATTRIBUTES = ("item_embedding", "item_factors")  # nn.Embedding or a [n_items, d] buffer


@torch.no_grad()
def recommend(model, user: int, history: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` best unseen items for one user.

    Args:
        model: the plugin.
        user: the user's index (ignored by models that fold in a history).
        history: ``[n_items]`` known items (1 = known); they are never recommended.
        k: list length (capped at the number of unseen items).

    Returns:
        ``(items [k], scores [k])``.
    """
    history = history[None]  # [1, n_items]
    scores = model.score(torch.tensor([user]), history).float()  # [1, n_items]
    scores = mask_known(torch.nan_to_num(scores, nan=float("-inf")), history)
    k = min(k, int((history[0] == 0).sum()))
    require(k > 0, "the user already knows every item: there is nothing left to recommend")
    items = top_k(scores, k)[0]
    return items, scores[0, items]


@torch.no_grad()
def exact_contributions(model, user: int, history: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
    """Each history item's contribution to each listed item's score (linear models).

    Args:
        history: ``[n_items]`` known items.
        items: ``[K]`` listed items.

    Returns:
        ``(history_items [H], contributions [H, K])``; ``contributions.sum(0)`` is the items' scores.
    """
    known = torch.nonzero(history > 0).view(-1)  # [H]
    one_hot = torch.zeros(len(known), len(history))
    one_hot[torch.arange(len(known)), known] = 1.0  # [H, n_items]: one history item per row
    per_item = model.score(torch.full((len(known),), user), one_hot).float()  # [H, n_items]
    return known, per_item[:, items]


def item_vectors(model) -> Tensor | None:
    """The model's item vectors ``[n_items, d]``, or None when it has none."""
    for name in ITEM_VECTOR_ATTRIBUTES:
        value = getattr(model, name, None)
        if isinstance(value, torch.nn.Embedding):
            return value.weight.detach()
        if isinstance(value, Tensor) and value.dim() == 2:
            return value.detach()
    return None


def nearest_history(vectors: Tensor, history: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
    """Cosine similarity of each listed item to each history item in item-vector space.

    Returns:
        ``(history_items [H], similarities [H, K])``.
    """
    known = torch.nonzero(history > 0).view(-1)
    unit = vectors.float() / vectors.float().norm(dim=1, keepdim=True).clamp(min=1e-12)
    return known, unit[known] @ unit[items].T  # [H, K]


def explain(model, user: int, history: Tensor, k: int, top_n: int = 3) -> dict:
    """The list and, for each item, the history items that contributed most.

    Returns:
        ``{"method": "exact"|"approximate", "items": [{"item", "score", "because": [{"item",
        "contribution", "share"} or {"item", "similarity"}]}]}`` with item indices.
    """
    items, scores = recommend(model, user, history, k)
    require(bool((history > 0).any()), "the user has no history to explain the recommendations with")
    if linear_in_history(model):
        known, contributions = exact_contributions(model, user, history, items)
        method, values = "exact", contributions
    else:
        vectors = item_vectors(model)
        if vectors is None:
            raise RecbenchError(f"{type(model).__name__} has neither a linear item-item form nor item "
                                "embeddings, so recbench cannot explain its recommendations")
        known, values = nearest_history(vectors, history, items)
        method = "approximate"
    n = min(top_n, len(known))
    order = values.abs().topk(n, dim=0).indices if method == "exact" else values.topk(n, dim=0).indices  # [n, K]
    out = []
    for column in range(len(items)):
        because = []
        for row in order[:, column].tolist():
            value = float(values[row, column])
            entry = {"item": int(known[row])}
            if method == "exact":
                score = float(scores[column])
                entry.update(contribution=value, share=value / score if score else float("nan"))
            else:
                entry["similarity"] = value
            because.append(entry)
        out.append({"item": int(items[column]), "score": float(scores[column]), "because": because})
    return {"method": method, "items": out}
