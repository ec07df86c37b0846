"""Finding and reading finished runs: every ``results.json`` under the given folders.

Bad files never stop the leaderboard: a corrupt or truncated ``results.json`` is skipped, one from
an older schema is read as far as it goes; each case leaves a warning that names the file (the
command and the multirun callback print them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from recbench.results import RESULTS_FILE, SCHEMA_VERSION


@dataclass
class Run:
    """One finished run, as much of it as the leaderboard needs."""

    path: Path                       # the results.json file
    model: str
    dataset: str
    split: str
    seed: int | None
    metrics: dict[str, float]        # "test/ndcg@10" -> value
    train_seconds: float
    eval_seconds: float
    n_params: int | None
    config: dict                     # the resolved run config (empty when the file has none)
    per_user_file: Path | None       # per_user_test.parquet, when the run wrote one
    source: str = ""                 # the PATH argument it was found under
    fairness: dict = field(default_factory=dict)  # test-stage user-group gaps: {grouping: {metric: entry}}

    @property
    def directory(self) -> Path:
        return self.path.parent


@dataclass
class Collection:
    """The runs that could be read, and a warning for each file that could not (or only partly)."""

    runs: list[Run] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def find_results(root: Path) -> list[Path]:
    """``root`` itself when it is a results file, else every results.json below it, sorted.

    Copies inside W&B run folders (``wandb/offline-run-*/files/results.json``, saved so that
    ``wandb sync`` uploads them) are not runs of their own and are left out.
    """
    if root.is_file():
        return [root]
    return sorted(path for path in root.rglob(RESULTS_FILE)
                  if "wandb" not in path.relative_to(root).parts[:-1])


def collect_runs(paths: list[str | Path]) -> Collection:
    """Read every run under ``paths`` (run folders, multirun folders, or results.json files)."""
    collection = Collection()
    for source in paths:
        root = Path(source)
        if not root.exists():
            collection.warn(f"{root}: no such file or folder, skipped")
            continue
        files = find_results(root)
        if not files:
            collection.warn(f"{root}: no {RESULTS_FILE} found below it")
        for file in files:
            run = read_run(file, collection)
            if run is not None:
                run.source = str(source)
                collection.runs.append(run)
    return collection


def _number(value, default=math.nan) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def read_run(file: Path, collection: Collection) -> Run | None:
    """Parse one results.json; ``None`` (with a warning) when it cannot be used at all."""
    try:
        raw = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        collection.warn(f"{file}: skipped, not readable as JSON (corrupt or truncated?): {error}")
        return None
    if not isinstance(raw, dict):
        collection.warn(f"{file}: skipped, expected a JSON object, found {type(raw).__name__}")
        return None
    version = raw.get("schema_version")
    if version is None:
        collection.warn(f"{file}: no schema_version (written by an older recbench): read as far as it goes")
    elif version != SCHEMA_VERSION:
        collection.warn(f"{file}: schema_version {version}, this recbench reads {SCHEMA_VERSION}: "
                        "read as far as it goes")
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        collection.warn(f"{file}: skipped, it has no metrics")
        return None
    config = raw.get("config") if isinstance(raw.get("config"), dict) else {}
    if not config:
        collection.warn(f"{file}: no resolved config, so runs are grouped by model, dataset and split only")

    model, dataset, split = raw.get("model"), raw.get("dataset"), raw.get("split")
    # Older files kept plain names where the current schema keeps objects.
    model_name = model.get("name") if isinstance(model, dict) else model
    dataset_name = dataset.get("name") if isinstance(dataset, dict) else dataset
    split_name = split.get("name") if isinstance(split, dict) else split
    timing = raw.get("timing") if isinstance(raw.get("timing"), dict) else {}
    n_params = model.get("n_params") if isinstance(model, dict) else None
    artifacts = raw.get("artifacts") if isinstance(raw.get("artifacts"), dict) else {}
    artifact = artifacts.get("per_user_test")
    per_user = file.parent / (artifact or "per_user_test.parquet")
    if not per_user.is_file():
        collection.warn(f"{file}: no per-user test vectors ({per_user.name}): this run is left out of "
                        "the significance tests")
        per_user = None
    seed = raw.get("seed", config.get("seed"))
    return Run(
        path=file,
        model=str(model_name or config.get("model", {}).get("_target_", "unknown")),
        dataset=str(dataset_name or config.get("dataset", {}).get("name", "unknown")),
        split=str(split_name or "unknown"),
        seed=int(seed) if isinstance(seed, int) else None,
        metrics={key: _number(value) for key, value in metrics.items()},
        train_seconds=_number(timing.get("train_seconds")),
        eval_seconds=_number(timing.get("eval_seconds")),
        n_params=int(n_params) if isinstance(n_params, int) else None,
        config=config,
        per_user_file=per_user,
        fairness=((raw.get("fairness") or {}).get("test") or {}) if isinstance(raw.get("fairness"), dict) else {},
    )
