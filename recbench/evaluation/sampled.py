"""Sampled evaluation (the NCF protocol): rank each user's targets among N sampled negatives.

Off by default. Full ranking is what recbench reports because sampled metrics are not
consistent with it: Krichene and Rendle (KDD 2020, "On Sampled Metrics for Item
Recommendation") show that they can reorder models. The option exists to reproduce papers
that report them, and every result computed this way says so.

The negatives of a user are a deterministic function of (seed, user, item) through a hash, so
they are the same whatever the batch composition, the process (DDP shard) or the device.
"""

from __future__ import annotations

import functools
import logging

import torch
from omegaconf import DictConfig
from torch import Tensor

from recbench.errors import require_positive

log = logging.getLogger(__name__)

WARNING = ("sampled metrics (evaluation.sampled_negatives) rank the held-out items among a few sampled "
           "negatives; they are not consistent with full-ranking metrics and can reorder models "
           "(Krichene & Rendle, KDD 2020). Compare models by full ranking where you can")


@functools.cache
def _warn_once() -> None:
    log.warning(WARNING)


def _mix(x: Tensor) -> Tensor:
    """splitmix64's finaliser on int64 (wrapping arithmetic; masks make the shifts logical)."""
    x = x ^ ((x >> 30) & 0x3FFFFFFFF)
    x = x * -4658895280553007687  # 0xBF58476D1CE4E5B9 as a signed 64-bit integer
    x = x ^ ((x >> 27) & 0x1FFFFFFFFF)
    x = x * -7723592293110705685  # 0x94D049BB133111EB
    return x ^ ((x >> 31) & 0x1FFFFFFFF)


class SampledNegatives:
    """Restricts the ranking of each user to the user's targets plus ``n_negatives`` sampled items.

    Negatives are drawn uniformly without replacement from the items that are neither in the
    user's history nor among the targets (fewer when not enough remain).

    Args:
        n_negatives: negatives per user (NCF uses 100).
        seed: fixes the draw.
    """

    def __init__(self, n_negatives: int, seed: int = 0):
        require_positive("evaluation.sampled_negatives", n_negatives, integer=True)
        self.n_negatives = int(n_negatives)
        self.seed = int(seed)

    def negatives(self, users: Tensor, excluded: Tensor) -> Tensor:
        """Boolean ``[B, n_items]``: True at each user's sampled negatives.

        Args:
            users: ``[B]`` user indices.
            excluded: ``[B, n_items]`` bool, items that may not be drawn.
        """
        n_items = excluded.shape[1]
        items = torch.arange(n_items, device=users.device, dtype=torch.int64)
        keys = _mix(_mix(users.long()[:, None] * n_items + items[None, :]) + self.seed)  # [B, n_items]
        top = torch.iinfo(torch.int64).max
        keys = keys.masked_fill(excluded, top)
        n = min(self.n_negatives, n_items)
        drawn = torch.topk(keys, n, dim=1, largest=False)  # the n smallest keys = a uniform draw
        chosen = torch.zeros_like(excluded)
        chosen.scatter_(1, drawn.indices, drawn.values < top)  # rows short of items draw fewer
        return chosen

    def restrict(self, users: Tensor, scores: Tensor, history: Tensor, target: Tensor) -> Tensor:
        """Scores with everything but the targets and the sampled negatives set to ``-inf``.

        Shapes: users ``[B]``; scores, history, target ``[B, n_items]``. Returns ``[B, n_items]``.
        """
        positive = target > 0
        candidates = positive | self.negatives(users, positive | (history > 0))
        return scores.masked_fill(~candidates, float("-inf"))


def sampler_from_config(evaluation: DictConfig) -> SampledNegatives | None:
    """The sampler asked for by ``evaluation.sampled_negatives`` (None: full ranking, the default)."""
    n_negatives = evaluation.get("sampled_negatives")
    if n_negatives is None:
        return None
    _warn_once()
    return SampledNegatives(n_negatives, evaluation.get("sampled_seed", 0))


def protocol_record(evaluation: DictConfig) -> dict:
    """What results.json says about how items were ranked."""
    n_negatives = evaluation.get("sampled_negatives")
    # Only recorded when off, so the records of the default protocol stay as they were.
    history = {} if evaluation.get("exclude_history", True) else {"exclude_history": False}
    if n_negatives is None:
        return {"protocol": "full_ranking", **history}
    return {"protocol": "sampled", "sampled_negatives": int(n_negatives),
            "sampled_seed": int(evaluation.get("sampled_seed", 0)), "warning": WARNING, **history}
