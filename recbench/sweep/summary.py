"""The end of a sweep: the best trial(s), their overrides and metrics, in the sweep directory."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import optuna
import yaml

from recbench.record import RecordError, RunRecord
from recbench.results import RESULTS_FILE, write_text
from recbench.sweep.study import FAIL_REASON, OUTPUT_DIR, OVERRIDES

SUMMARY_FILE = "optimization_results.yaml"


def summarize(study: optuna.Study, objectives: list[str], storage: str) -> dict:
    """The study's state and its best trials (one, or the Pareto front of a multi-objective study).

    Each best trial carries the overrides that reproduce it and the metrics of its results.json.
    """
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        best = []
    elif len(study.directions) == 1:
        best = [study.best_trial]
    else:
        best = study.best_trials
    return {
        "study_name": study.study_name,
        "storage": storage,
        "objectives": {name: d.name.lower() for name, d in zip(objectives, study.directions)},
        "trials": dict(sorted(Counter(t.state.name.lower() for t in trials).items())),
        "failures": {t.number: t.user_attrs[FAIL_REASON] for t in trials if FAIL_REASON in t.user_attrs},
        "best_trials": [_describe(t, objectives) for t in best],
    }


def _describe(trial: optuna.trial.FrozenTrial, objectives: list[str]) -> dict:
    output_dir = trial.user_attrs.get(OUTPUT_DIR)
    metrics = None
    if output_dir and (Path(output_dir) / RESULTS_FILE).is_file():
        with contextlib.suppress(RecordError):  # a damaged run file leaves the metrics out
            metrics = RunRecord.load(Path(output_dir)).metrics
    return {
        "number": trial.number,
        "values": dict(zip(objectives, trial.values)),
        "params": trial.params,
        "overrides": trial.user_attrs.get(OVERRIDES, []),
        "output_dir": output_dir,
        "metrics": metrics,
    }


def write_summary(path: Path, summary: dict) -> None:
    """Write the summary as YAML (atomically)."""
    write_text(path, yaml.safe_dump(summary, sort_keys=False))


def format_summary(summary: dict) -> str:
    """A few lines for the console."""
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items())
    lines = [f"study {summary['study_name']} ({summary['storage']}): {counts}"]
    if not summary["best_trials"]:
        lines.append("  no trial finished: see the failures in " + SUMMARY_FILE)
    for best in summary["best_trials"]:
        values = ", ".join(f"{name} {value:.4f}" for name, value in best["values"].items())
        lines.append(f"  best trial {best['number']}: {values}")
        lines.append(f"    python run.py {' '.join(best['overrides'])}")
    return "\n".join(lines)
