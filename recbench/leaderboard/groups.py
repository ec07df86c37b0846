"""Per-user-group tables: how each configuration serves each group of users, and the gaps.

Runs made with ``evaluation.user_groups`` carry, for each grouping (gender, age, activity), each
group's mean metric, the largest gap between groups and its tests (see
:mod:`recbench.evaluation.fairness`). Over a configuration's seeds the table shows the mean of
each group's mean and of the gap, and the largest p-value of any seed (conservative: the gap is
called significant only when it is so in every seed). The item side is the head items' share of
exposure beside their share of training interactions.
"""

from __future__ import annotations

import fnmatch
import math

import numpy as np

from recbench.leaderboard.collect import Run
from recbench.leaderboard.grouping import group_key, group_labels


def _kept(run: Run, datasets, models) -> bool:
    return (not datasets or any(fnmatch.fnmatchcase(run.dataset, p) for p in datasets)) and (
        not models or any(fnmatch.fnmatchcase(run.model, p) for p in models))


def _p(values: list[float]) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return f"{max(values):.2g}" if values else "–"


def group_tables(runs: list[Run], metric: str, datasets=None, models=None) -> str:
    """Markdown: one row per (configuration, grouping) for ``metric`` (``ndcg@10``)."""
    runs = [r for r in runs if r.fairness and _kept(r, datasets, models)]
    if not runs:
        return ("no per-group results: run with evaluation.user_groups=[activity] (or gender, age where "
                "the dataset has user features)\n")
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(group_key(run, False), []).append(run)
    labels = group_labels(groups, False)
    k = metric.rsplit("@", 1)[1] if "@" in metric else None
    lines = [f"Per-group test {metric}: mean of each group's mean over seeds (users); gap = best - worst group; "
             "p = largest over seeds of Welch's t-test (best vs worst) and Kruskal-Wallis (all groups).", "",
             "| model | dataset | grouping | groups | gap | best / worst | p Welch | p Kruskal |",
             "|---|---|---|---|---:|---|---:|---:|"]
    exposure = []
    for key, members in groups.items():
        groupings = dict.fromkeys(g for run in members for g in run.fairness)
        for grouping in groupings:
            entries = [run.fairness[grouping][metric] for run in members
                       if metric in run.fairness.get(grouping, {})]
            if not entries:
                continue
            names = list(entries[0]["groups"])
            cells = []
            for name in names:
                means = [e["groups"][name]["mean"] for e in entries if name in e["groups"]]
                cells.append(f"{name} {np.nanmean(means):.4f} ({entries[0]['groups'][name]['n']})")
            gap = np.nanmean([e["gap"] for e in entries if e["gap"] is not None])
            lines.append(f"| {labels[key]} | {members[0].dataset} | {grouping} | {'; '.join(cells)} | {gap:.4f} | "
                         f"{entries[0]['best']} / {entries[0]['worst']} | {_p([e['p_welch'] for e in entries])} | "
                         f"{_p([e['p_kruskal'] for e in entries])} |")
        head = [run.metrics.get(f"test/head_exposure@{k}", math.nan) for run in members]
        share = [run.metrics.get("test/head_interactions", math.nan) for run in members]
        if k and not all(math.isnan(v) for v in head):
            exposure.append(f"| {labels[key]} | {members[0].dataset} | {np.nanmean(head):.3f} | "
                            f"{np.nanmean(share):.3f} | {1 - np.nanmean(head):.3f} | {1 - np.nanmean(share):.3f} |")
    if exposure:
        lines += ["", f"Item side: share of top-{k} exposure and of training interactions, head vs tail items.", "",
                  "| model | dataset | head exposure | head interactions | tail exposure | tail interactions |",
                  "|---|---|---:|---:|---:|---:|", *exposure]
    return "\n".join(lines) + "\n"
