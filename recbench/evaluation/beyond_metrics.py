"""What the evaluator needs to compute beyond-accuracy metrics, built once per run.

:class:`BeyondAccuracy` holds the training popularity, the head/tail split, the item genre
vectors and the user groupings, as tensors moved once to the evaluation device. The ranking
accumulator calls :meth:`BeyondAccuracy.per_user` on each batch's top-K lists and
:meth:`BeyondAccuracy.catalogue` on the summed exposure; :func:`fairness_report` averages the
per-user metrics per group at the end. The metric definitions live in
:mod:`recbench.evaluation.beyond`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recbench.errors import RecbenchError, require, require_positive
from recbench.evaluation import beyond
from recbench.evaluation.fairness import Grouping, activity_grouping, feature_grouping, group_gaps
from recbench.evaluation.segments import item_segments

# Per-user metrics (one value per user and K), catalogue metrics (one per K), and what each needs.
PER_USER = ("f1", "novelty", "arp", "aplt", "pop_lift", "ild", "calibration")
CATALOGUE = ("gini", "entropy", "exposure")
ALL = PER_USER + CATALOGUE
NEEDS_ITEM_FEATURES = ("ild", "calibration")
BUILTIN_GROUPS = ("activity",)


def as_list(value) -> list[str]:
    """A config list, a single name (``evaluation.beyond=all``) or null, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check_beyond_config(names, user_groups, activity_bins) -> None:
    """Names checked before any data is read."""
    names = as_list(names)
    unknown = [name for name in names if name not in ALL and name != "all"]
    require(not unknown, f"evaluation.beyond: unknown metric(s) {unknown}; choose from {list(ALL)} or 'all'")
    groups = as_list(user_groups)
    require(len(set(groups)) == len(groups), f"evaluation.user_groups lists a group twice: {groups}")
    require_positive("evaluation.activity_bins", activity_bins, integer=True)


def _field_columns(matrix, field: str | None, what: str, dataset: str) -> tuple[np.ndarray, object]:
    """The columns of one field of a FeatureMatrix (all fields when ``field`` is None)."""
    if field is None:
        return np.asarray(matrix.values), None
    fields = getattr(matrix, "fields", {})
    require(field in fields, f"{what}: the dataset {dataset!r} has no feature {field!r}; it has "
                             f"{sorted(fields) or 'none'}")
    info = fields[field]
    return np.asarray(matrix.values)[:, info.columns], info


class BeyondAccuracy:
    """Popularity, features and groups for the beyond-accuracy metrics of one run.

    Args:
        names: metrics from :data:`ALL` (``"all"``: every one the dataset supports).
        train: the training matrix ``[n_users, n_items]`` (popularity and activity come from it).
        item_features: the dataset's item FeatureMatrix, or None.
        user_features: the dataset's user FeatureMatrix, or None.
        item_field: the item feature field used for diversity and calibration (``genres``);
            None: all item features.
        user_groups: groupings to report (``activity`` or user feature fields).
        activity_bins: quantile bins of history length for ``activity`` (and numeric fields).
        dataset: the dataset's name, for messages.
        head_share: the head holds this share of training interactions (``evaluation.head_share``,
            the same head as the segment metrics').
    """

    def __init__(self, names, train: sp.csr_matrix, item_features=None, user_features=None,
                 item_field: str | None = "genres", user_groups=(), activity_bins: int = 3,
                 dataset: str = "this dataset", head_share: float = beyond.HEAD_SHARE):
        check_beyond_config(names, user_groups, activity_bins)
        names, user_groups = as_list(names), as_list(user_groups)
        if "all" in names:
            names = [n for n in ALL if item_features is not None or n not in NEEDS_ITEM_FEATURES]
        missing = [n for n in names if n in NEEDS_ITEM_FEATURES]
        if missing and item_features is None:
            raise RecbenchError(
                f"evaluation.beyond: {missing} need item features (e.g. genres), but the dataset "
                f"{dataset!r} has none: remove them from evaluation.beyond or use a dataset with item features")
        self.names = [n for n in ALL if n in names]  # canonical order
        n_users, n_items = train.shape
        self.n_users, self.n_items = n_users, n_items
        counts = np.asarray(train.sum(axis=0)).ravel()
        self.counts = torch.from_numpy(counts.astype(np.float32))  # [n_items]
        self.info = beyond.self_information(self.counts, n_users)  # [n_items]
        self.head = torch.from_numpy(item_segments(counts, head_share)["head"])  # [n_items] bool
        self.tail = (~self.head).float()  # [n_items]
        self.head_interactions = float(self.counts[self.head].sum() / self.counts.sum().clamp(min=1))
        self.unit_features = self.genres = None
        if missing:
            columns, _ = _field_columns(item_features, item_field, "evaluation.item_field", dataset)
            columns = torch.from_numpy(columns.astype(np.float32))
            self.unit_features = beyond.unit_rows(columns)  # [n_items, G]
            self.genres = beyond.genre_distribution(columns)  # [n_items, G]
        self.groupings = [self._grouping(g, train, user_features, activity_bins, dataset)
                          for g in user_groups]

    @staticmethod
    def _grouping(name: str, train: sp.csr_matrix, user_features, bins: int, dataset: str) -> Grouping:
        if name == "activity":
            return activity_grouping(np.diff(train.indptr), bins)
        if user_features is None:
            raise RecbenchError(f"evaluation.user_groups: {name!r} needs user features, but the dataset "
                                f"{dataset!r} has none: use user_groups=[activity] or a dataset with user features")
        values, info = _field_columns(user_features, name, "evaluation.user_groups", dataset)
        mask = getattr(info, "mask", None)
        mask = np.asarray(user_features.mask if mask is None else mask, dtype=bool)
        return feature_grouping(name, values, mask, info.kind, list(getattr(info, "labels", None) or []) or None, bins)

    def to(self, device: torch.device) -> "BeyondAccuracy":
        """Move the tensors to ``device`` (once, before evaluation)."""
        for attr in ("counts", "info", "head", "tail", "unit_features", "genres"):
            value = getattr(self, attr)
            if value is not None:
                setattr(self, attr, value.to(device))
        return self

    def per_user(self, top: Tensor, history: Tensor, metrics: dict[str, Tensor], ks: list[int]) -> dict[str, Tensor]:
        """Per-user metrics of one batch.

        Args:
            top: ``[B, max(ks)]`` each user's list.
            history: ``[B, n_items]`` known items (sparse COO or dense).
            metrics: the accuracy metrics of the batch (``precision@K``, ``recall_all@K``: ``[B]``).
            ks: the cut-offs.

        Returns:
            ``{"novelty@10": [B], ...}``.
        """
        if self.counts.device != top.device:
            self.to(top.device)
        out = {}
        if "pop_lift" in self.names:
            profile = beyond.history_popularity(history, self.counts)  # [B], the same for every K
        for k in ks:
            listed = top[:, :k]
            if "f1" in self.names:
                out[f"f1@{k}"] = beyond.f1(metrics[f"precision@{k}"], metrics[f"recall_all@{k}"])
            if "novelty" in self.names:
                out[f"novelty@{k}"] = beyond.list_mean(listed, self.info)
            if "arp" in self.names:
                out[f"arp@{k}"] = beyond.list_mean(listed, self.counts)
            if "aplt" in self.names:
                out[f"aplt@{k}"] = beyond.list_mean(listed, self.tail)
            if "pop_lift" in self.names:
                out[f"pop_lift@{k}"] = beyond.popularity_lift(listed, profile, self.counts)
            if "ild" in self.names:
                out[f"ild@{k}"] = beyond.intra_list_diversity(listed, self.unit_features)
            if "calibration" in self.names:
                out[f"calibration@{k}"] = beyond.calibration_kl(listed, history, self.genres)
        return out

    def catalogue(self, exposure: Tensor, ks: list[int]) -> dict[str, float]:
        """Catalogue metrics from the summed exposure ``[len(ks), n_items]`` (all users' lists)."""
        out = {}
        head = self.head.to(exposure.device)
        for row, k in enumerate(ks):
            if "gini" in self.names:
                out[f"gini@{k}"] = beyond.gini(exposure[row])
            if "entropy" in self.names:
                out[f"entropy@{k}"] = beyond.entropy(exposure[row])
            if "exposure" in self.names:
                total = float(exposure[row].sum())
                out[f"head_exposure@{k}"] = float(exposure[row][head].sum()) / total if total else float("nan")
        if "exposure" in self.names:
            out["head_interactions"] = self.head_interactions
        return out


def fairness_report(users: np.ndarray, per_user: dict[str, np.ndarray], groupings: list[Grouping]) -> dict:
    """``{grouping: {metric: gap entry}}`` for the evaluated ``users`` ``[n]`` (see :func:`group_gaps`)."""
    return {g.name: group_gaps(per_user, g.codes[users], g.labels) for g in groupings}
