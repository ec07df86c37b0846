"""User groups and the gaps between them: every per-user metric averaged per group, with a test.

A grouping assigns each user index a group code (``-1``: the user has no value and is left out)
and names the groups. For each metric the report gives each group's mean and size, the largest
gap (best group's mean minus worst group's) and two tests of it:

* ``p_welch``: Welch's t-test (unequal variances) between the best and the worst group's per-user
  values: is the gap between the two group means real?
* ``p_kruskal``: the Kruskal-Wallis H-test across all groups: do the groups differ at all? It does
  not depend on which two groups were picked, so it does not suffer from choosing the extremes.

Per-group means use ``np.bincount`` (no per-user loop); the tests run once per metric.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from recbench.errors import RecbenchError


@dataclass(frozen=True)
class Grouping:
    """A group code per user and the groups' names.

    Attributes:
        name: the grouping (``gender``, ``age``, ``activity``).
        codes: int64 ``[n_users]``, ``-1`` for users without a group.
        labels: the name of each group code.
    """

    name: str
    codes: np.ndarray
    labels: list[str]


def activity_grouping(history_lengths: np.ndarray, n_bins: int) -> Grouping:
    """Quantile bins of history length over the users that have a history.

    Args:
        history_lengths: ``[n_users]`` training interactions per user.
        n_bins: number of bins (fewer when many users share a length and quantiles coincide).
    """
    lengths = np.asarray(history_lengths)
    active = lengths[lengths > 0]
    if len(active) == 0:
        raise RecbenchError("evaluation.user_groups=[activity] needs users with training interactions")
    inner = np.unique(np.quantile(active, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower"))
    codes = np.searchsorted(inner, lengths, side="left").astype(np.int64)  # bin b: (edge[b-1], edge[b]]
    codes[lengths == 0] = -1
    bounds = [int(active.min()) - 1, *map(int, inner), int(active.max())]
    labels = [f"{lo + 1}-{hi}" for lo, hi in zip(bounds[:-1], bounds[1:])]
    return Grouping("activity", codes, labels)


def feature_grouping(name: str, values: np.ndarray, mask: np.ndarray, kind: str,
                     labels: list[str] | None = None, n_bins: int = 3) -> Grouping:
    """Groups from one user feature field.

    Args:
        name: the field (``gender``, ``age``).
        values: ``[n_users, width]`` the field's columns of the user feature matrix.
        mask: bool ``[n_users]``, True where the user has features.
        kind: ``categorical`` (one group per column, the user's active column) or ``numeric``
            (quantile bins of the single column).
        labels: names of a categorical field's columns, when the feature matrix has them.
        n_bins: bins for a numeric field.
    """
    values = np.asarray(values, dtype=np.float64)
    if kind == "categorical":
        codes = values.argmax(axis=1).astype(np.int64)
        codes[~mask | (values.max(axis=1) <= 0)] = -1
        names = list(labels) if labels is not None and len(labels) == values.shape[1] else [
            f"{name}[{j}]" for j in range(values.shape[1])]
        return Grouping(name, codes, names)
    if kind == "numeric":
        column = values[:, 0]
        known = column[mask]
        inner = np.unique(np.quantile(known, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower"))
        codes = np.searchsorted(inner, column, side="left").astype(np.int64)
        codes[~mask] = -1
        bounds = [float(known.min()), *map(float, inner), float(known.max())]
        # Values are standardised in the feature matrix: the bins are named by quantile, low to high.
        names = [f"{name} q{b + 1}/{len(inner) + 1} (z {bounds[b]:.2g}..{bounds[b + 1]:.2g})"
                 for b in range(len(inner) + 1)]
        return Grouping(name, codes, names)
    raise RecbenchError(f"evaluation.user_groups: the user feature {name!r} is {kind}; only categorical "
                        "and numeric user features can form groups")


def group_gaps(per_user: dict[str, np.ndarray], codes: np.ndarray, labels: list[str],
               min_size: int = 2) -> dict[str, dict]:
    """Each metric's per-group means, its largest gap and the tests of that gap.

    Args:
        per_user: metric -> ``[n]`` values of the evaluated users (NaN: undefined for that user).
        codes: ``[n]`` the evaluated users' group codes (``-1``: left out).
        labels: the name of each group code.
        min_size: groups with fewer users with a value are reported but not compared.

    Returns:
        metric -> ``{"groups": {label: {"mean", "n"}}, "gap", "best", "worst", "p_welch", "p_kruskal"}``.
    """
    from scipy import stats

    codes = np.asarray(codes)
    n_groups = len(labels)
    out = {}
    for metric, values in per_user.items():
        values = np.asarray(values, dtype=np.float64)
        keep = (codes >= 0) & np.isfinite(values)
        sizes = np.bincount(codes[keep], minlength=n_groups)
        sums = np.bincount(codes[keep], weights=values[keep], minlength=n_groups)
        means = np.divide(sums, sizes, out=np.full(n_groups, np.nan), where=sizes > 0)
        groups = {labels[g]: {"mean": float(means[g]), "n": int(sizes[g])} for g in range(n_groups)}
        compared = np.flatnonzero(sizes >= min_size)
        entry = {"groups": groups, "gap": float("nan"), "best": None, "worst": None,
                 "p_welch": float("nan"), "p_kruskal": float("nan")}
        if len(compared) >= 2:
            best = compared[np.argmax(means[compared])]
            worst = compared[np.argmin(means[compared])]
            samples = [values[keep & (codes == g)] for g in compared]
            with warnings.catch_warnings():  # nearly constant groups: scipy warns, the p-value says so
                warnings.simplefilter("ignore", RuntimeWarning)
                welch = stats.ttest_ind(values[keep & (codes == best)], values[keep & (codes == worst)],
                                        equal_var=False)
            entry.update(gap=float(means[best] - means[worst]), best=labels[best], worst=labels[worst],
                         p_welch=float(welch.pvalue), p_kruskal=_kruskal(stats, samples))
        out[metric] = entry
    return out


def _kruskal(stats, samples: list[np.ndarray]) -> float:
    # Kruskal-Wallis is undefined when every value is identical (e.g. all users have recall 0).
    if np.ptp(np.concatenate(samples)) == 0:
        return 1.0
    return float(stats.kruskal(*samples).pvalue)
