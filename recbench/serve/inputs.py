"""The user or history a command asks about, and printing its answers."""

from __future__ import annotations

import json

import numpy as np

from recbench.errors import RecbenchError, require


def _index_of(ids: np.ndarray) -> dict[str, int]:
    return {str(value): index for index, value in enumerate(ids)}


def user_history(run, user_id: str):
    """``(user index, history [n_items])`` of a user the run knows."""
    import torch

    index = _index_of(run.user_ids).get(str(user_id))
    if index is None:
        examples = ", ".join(map(str, run.user_ids[:3]))
        raise RecbenchError(f"user {user_id!r} is not in the run's dataset ({len(run.user_ids)} users, e.g. "
                            f"{examples}): pass a known --user, or --history for a new one")
    row = run.known[index]
    history = torch.zeros(run.known.shape[1])
    history[torch.from_numpy(row.indices.astype(np.int64))] = 1.0
    return index, history


def given_history(run, items: str):
    """``(0, history [n_items])`` from ``--history ITEM,ITEM,...`` (original item ids)."""
    import torch

    from recbench.plugin import folds_in_history

    require(folds_in_history(run.model),
            f"{run.model_name} cannot score a user it has not seen from a history (it learns one vector per "
            "training user); use --user with a known user, or a model that folds in a history "
            "(itemknn, ease, slim, puresvd, multvae, multdae, recvae, pop)")
    wanted = [item.strip() for item in items.split(",") if item.strip()]
    require(wanted, "--history is empty: give item ids separated by commas, e.g. --history 50,181,258")
    index = _index_of(run.item_ids)
    unknown = [item for item in wanted if item not in index]
    require(not unknown, f"--history: item(s) {unknown} are not in the run's catalogue of {len(index)} items")
    history = torch.zeros(len(run.item_ids))
    history[[index[item] for item in wanted]] = 1.0
    return 0, history


def label(run, item: int) -> dict:
    """An item index as its original id and, where known, its title."""
    out = {"item_id": run.item_ids[item].item() if hasattr(run.item_ids[item], "item") else run.item_ids[item]}
    if run.titles is not None:
        out["title"] = run.titles[item]
    return out


def dumps(payload) -> str:
    return json.dumps(payload, indent=2, default=str)
