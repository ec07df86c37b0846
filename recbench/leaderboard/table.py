"""From runs to the ranked table: one row per group, mean and spread over its seeds."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recbench.errors import RecbenchError, require
from recbench.leaderboard.collect import Collection, Run
from recbench.leaderboard.grouping import block_key, group_key, group_labels
from recbench.leaderboard.significance import TESTS, compare_block, per_user_means

# Columns that are not metrics; smaller is better for each of them.
COST_COLUMNS = ("train_seconds", "eval_seconds", "n_params")
DEFAULT_METRICS = ("test/ndcg@*", "test/recall@*")
# ``--beyond``: the beyond-accuracy columns (docs/beyond_accuracy.md), at the sort metric's K.
BEYOND_FAMILIES = ("novelty", "arp", "aplt", "gini", "coverage", "ild", "calibration")
# Metrics where a smaller value is the better one (popularity bias, concentration, miscalibration).
LOWER_IS_BETTER = ("arp", "pop_lift", "gini", "head_exposure", "calibration")


def lower_is_better(metric: str) -> bool:
    """True for metrics such as ``test/gini@10`` where smaller is better."""
    family = metric.split("/", 1)[-1].split("@", 1)[0]
    return family in LOWER_IS_BETTER


def beyond_patterns(sort: str) -> list[str]:
    """Column patterns of the beyond-accuracy metrics at the K of ``sort`` (every K without one)."""
    k = sort.rsplit("@", 1)[1] if "@" in sort else "*"
    return [f"test/{family}@{k}" for family in BEYOND_FAMILIES]
STD = ":std"  # suffix of a metric's standard-deviation column


@dataclass
class Leaderboard:
    """A ranked table of groups and how it was made.

    ``table`` has one row per group (index: the group key), ranked within each block
    (dataset + split), with columns ``label, dataset, split, model, rank, n_seeds, seeds``,
    each metric's mean ``<metric>`` and sample standard deviation ``<metric>:std`` (ddof=1, NaN
    for one seed), ``train_seconds, eval_seconds`` (means), ``n_params``, ``epsilon`` and
    ``privacy_unit`` (the mean budget spent by DP-trained groups; NaN and None for the others)
    and, when a significance test ran, ``p_value, p_holm, n_users, significant, same_seeds``.
    """

    table: pd.DataFrame
    metrics: list[str]            # every metric found, in a stable order
    columns: list[str]            # the metrics chosen for display
    sort: str
    ascending: bool
    test: str | None              # "ttest", "wilcoxon", or None when no test ran
    alpha: float
    warnings: list[str] = field(default_factory=list)

    @property
    def has_privacy(self) -> bool:
        """Whether any group was trained with differential privacy (then epsilon is shown)."""
        return bool(self.table["epsilon"].notna().any())

    @property
    def significance_note(self) -> str:
        """One line saying which test, on what, with which correction and alpha."""
        if self.test is None:
            return "no significance test (it needs a test/ metric with per-user vectors as --sort)"
        mixed = "significant" in self.table and not self.table["same_seeds"].fillna(True).all()
        text = (f"significance: {TESTS[self.test]} over users on {self.sort} (each user's value is "
                f"the mean over a group's seeds, paired on user_id), two-sided, against the best group "
                f"of each dataset/split, Holm-corrected across those comparisons, alpha={self.alpha:g}; "
                f"'*' marks groups significantly worse than the best")
        if mixed:
            text += ("; some groups ran other seeds than the best one, so their pairs also differ in "
                     "their test items")
        return text


def _matches(name: str, patterns: list[str] | None) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _ordered_metrics(runs: list[Run]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(run.metrics))
    return list(seen)


def choose_columns(metrics: list[str], patterns: list[str] | None, sort: str) -> list[str]:
    """The metrics matching ``patterns`` (glob, e.g. ``test/*@10``) in the patterns' order; the
    sort metric first when no pattern matches it."""
    chosen: dict[str, None] = {}
    for pattern in patterns or DEFAULT_METRICS:
        chosen.update(dict.fromkeys(m for m in metrics if fnmatch.fnmatchcase(m, pattern)))
    if sort in metrics and sort not in chosen:
        return [sort, *chosen]
    return list(chosen)


def build_leaderboard(collection: Collection, sort: str = "test/ndcg@10", columns: list[str] | None = None,
                      datasets: list[str] | None = None, models: list[str] | None = None,
                      test: str | None = "ttest", alpha: float = 0.05, ascending: bool | None = None,
                      by_source: bool = False) -> Leaderboard:
    """Group the runs, rank the groups and test them against the best of their block.

    Args:
        collection: runs from :func:`~recbench.leaderboard.collect.collect_runs`.
        sort: a metric (``test/ndcg@10``) or one of ``train_seconds, eval_seconds, n_params``.
        columns: glob patterns of the metrics to show (default: test recall and NDCG at every K).
        datasets, models: keep only these (glob patterns).
        test: ``"ttest"``, ``"wilcoxon"`` or ``None`` for no significance test.
        alpha: significance level, after Holm's correction.
        ascending: sort order; default descending for metrics, ascending for costs.
        by_source: keep runs found under different PATH arguments in different groups.
    """
    require(test is None or test in TESTS, f"unknown significance test {test!r}: use one of {sorted(TESTS)}")
    require(0 < alpha < 1, f"alpha must be in (0, 1), got {alpha}")
    warnings = list(collection.warnings)
    runs = [r for r in collection.runs if _matches(r.dataset, datasets) and _matches(r.model, models)]
    if not runs:
        raise RecbenchError("no runs to rank: check the paths"
                            + (" and the --dataset/--model filters" if datasets or models else ""))
    metrics = _ordered_metrics(runs)
    if sort not in metrics and sort not in COST_COLUMNS:
        raise RecbenchError(f"cannot sort by {sort!r}: the runs have no such metric. Use one of "
                            f"{', '.join(metrics + list(COST_COLUMNS))}")
    if ascending is None:
        ascending = sort in COST_COLUMNS

    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(group_key(run, by_source), []).append(run)
    labels = group_labels(groups, by_source)
    table = pd.DataFrame([_summarise(key, members, labels[key], metrics, warnings)
                          for key, members in groups.items()]).set_index("group")
    table["block"] = [block_key(groups[key][0]) for key in table.index]
    # Blocks in order of dataset and split name; groups ranked inside each; NaN metrics last.
    table = table.sort_values(["dataset", "split", "block", sort, "label"],
                              ascending=[True, True, True, ascending, True], na_position="last")
    table["rank"] = table.groupby("block", sort=False).cumcount() + 1

    run_test = test if (test and sort.startswith("test/") and not ascending) else None
    if run_test:
        _add_significance(table, groups, sort.split("/", 1)[1], run_test, alpha, warnings.append)
    return Leaderboard(table.drop(columns="block"), metrics, choose_columns(metrics, columns, sort), sort,
                       ascending, run_test, alpha, warnings)


def _summarise(key: str, runs: list[Run], label: str, metrics: list[str], warnings: list[str]) -> dict:
    seeds = [run.seed for run in runs]
    duplicates = sorted({s for s in seeds if s is not None and seeds.count(s) > 1})
    if duplicates:
        warnings.append(f"{label}: seed(s) {duplicates} appear more than once "
                        f"({', '.join(str(r.directory) for r in runs)}); all runs are counted")
    row = {"group": key, "label": label, "dataset": runs[0].dataset, "split": runs[0].split,
           "model": runs[0].model, "n_seeds": len(runs), "seeds": sorted(s for s in seeds if s is not None)}
    for metric in metrics:
        values = np.array([run.metrics.get(metric, math.nan) for run in runs], dtype=float)
        values = values[~np.isnan(values)]
        row[metric] = values.mean() if len(values) else math.nan
        row[metric + STD] = values.std(ddof=1) if len(values) > 1 else math.nan
    for cost in ("train_seconds", "eval_seconds"):
        values = np.array([getattr(run, cost) for run in runs], dtype=float)
        row[cost] = np.nanmean(values) if not np.all(np.isnan(values)) else math.nan
    params = [run.n_params for run in runs if run.n_params is not None]
    row["n_params"] = max(params) if params else math.nan
    # A group shares its config, so its runs are all DP-trained (with one unit) or none is.
    privacy = [run.record.privacy for run in runs if run.record.privacy is not None]
    row["epsilon"] = float(np.mean([p.epsilon for p in privacy])) if privacy else math.nan
    row["privacy_unit"] = privacy[0].unit if privacy else None
    return row


def _add_significance(table: pd.DataFrame, groups: dict[str, list[Run]], metric: str, test: str,
                      alpha: float, warn) -> None:
    """Fill the significance columns, block by block, against each block's top group."""
    def vectors(key: str):
        files = [run.per_user_file for run in groups[key] if run.per_user_file is not None]
        return per_user_means(files, metric, warn) if files else None

    def seeds(key: str) -> set:
        return {run.seed for run in groups[key]}

    for column, default in (("p_value", math.nan), ("p_holm", math.nan), ("n_users", 0),
                            ("significant", False), ("same_seeds", True)):
        table[column] = default
    table["significant"] = table["significant"].astype(object)
    for _, block in table.groupby("block", sort=False):
        best, others = block.index[0], list(block.index[1:])
        if not others:
            continue
        best_vector = vectors(best)
        if best_vector is None:
            warn(f"{block.loc[best, 'label']}: the best group has no per-user vectors, so its block "
                 "has no significance test")
        results = compare_block(best_vector, {key: vectors(key) for key in others}, seeds(best),
                                {key: seeds(key) for key in others}, test, alpha)
        for key, comparison in results.items():
            table.loc[key, ["p_value", "p_holm", "n_users", "significant", "same_seeds"]] = [
                comparison.p_value, comparison.p_holm, comparison.n_users, comparison.significant,
                comparison.same_seeds]
    table["significant"] = table["significant"].astype(bool)
