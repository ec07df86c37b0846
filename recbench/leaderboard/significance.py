"""Is a group worse than the best one? Paired tests over users, Holm-corrected.

Pairing: a group's value for a user is that user's test metric averaged over the group's seeds
(its runs). Two groups are paired on ``user_id``, over the users both have. When both groups ran
the same seeds (as a benchmark multirun does), seed ``s`` gave both the same split, so each pair
compares the two models on exactly the same test items: the pairing is exact. When the seed sets
differ, the pairs are still the same users, but their test items were drawn differently; the
comparison then also carries the split's randomness, and the leaderboard says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


TESTS = {"ttest": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}


@dataclass
class Comparison:
    """One group against the best group of its block."""

    p_value: float       # raw, two-sided
    p_holm: float        # Holm-adjusted within the block
    n_users: int         # paired users
    significant: bool    # worse than the best at the chosen alpha, after correction
    same_seeds: bool     # both groups ran the same seeds: exact pairing


def per_user_means(files: list[Path], metric: str, warn) -> pd.Series | None:
    """One value per user: the metric averaged over the runs (seeds) in ``files``.

    Returns a Series indexed by ``user_id``, or ``None`` when no file has the metric.
    """
    frames = []
    for file in files:
        try:
            frame = pd.read_parquet(file, columns=["user_id", metric])
        except Exception as error:  # pyarrow raises several types for corrupt or odd files
            warn(f"{file}: per-user vectors unreadable or without column {metric!r} ({error}); "
                 "left out of the significance test")
            continue
        frames.append(frame.astype({metric: "float64"}))  # stored as float32; average in float64
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).groupby("user_id", sort=True)[metric].mean()


def paired_p_value(best: np.ndarray, other: np.ndarray, test: str) -> float:
    """Two-sided p-value of a paired test on two aligned vectors ``[n_users]``."""
    # Per-user values are means of float32 metrics: round away float noise, so that equal
    # differences tie and zero differences are zero in the signed-rank test.
    differences = np.round(best - other, 12)
    if len(differences) < 2:
        return math.nan
    if not np.any(differences):
        return 1.0  # identical on every user: no evidence of a difference
    if test == "ttest":
        if np.all(differences == differences[0]):
            return 0.0  # a constant non-zero shift on every user (zero variance)
        return float(stats.ttest_rel(best, other).pvalue)
    if test == "wilcoxon":
        return float(stats.wilcoxon(differences, zero_method="wilcox").pvalue)
    raise ValueError(f"unknown test {test!r}, expected one of {sorted(TESTS)}")


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment; NaNs stay NaN and do not count as comparisons."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def compare_block(best: pd.Series | None, others: dict[str, pd.Series | None], best_seeds: set,
                  seeds: dict[str, set], test: str, alpha: float) -> dict[str, Comparison]:
    """Compare each group of one block with the block's best (higher metric is better)."""
    raw, sizes, gaps = {}, {}, {}
    for key, values in others.items():
        raw[key], sizes[key], gaps[key] = math.nan, 0, math.nan
        if best is None or values is None:
            continue
        joined = pd.concat([best.rename("best"), values.rename("other")], axis=1, join="inner")
        sizes[key] = len(joined)
        if len(joined):
            raw[key] = paired_p_value(joined["best"].to_numpy(), joined["other"].to_numpy(), test)
            gaps[key] = float((joined["best"] - joined["other"]).mean())
    adjusted = dict(zip(raw, holm(list(raw.values()))))
    out = {}
    for key in others:
        p_adj = adjusted[key]
        worse = gaps[key] > 0 and not math.isnan(p_adj) and p_adj < alpha
        out[key] = Comparison(raw[key], p_adj, sizes[key], bool(worse), seeds[key] == best_seeds)
    return out
