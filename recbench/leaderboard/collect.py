"""Finding and reading finished runs: every ``results.json`` under the given folders.

Bad files never stop the leaderboard: a corrupt or truncated ``results.json`` is skipped, one from
an older schema is read as far as it goes; each case leaves a warning that names the file (the
command and the multirun callback print them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recbench.record import RecordError, RunRecord
from recbench.results import RESULTS_FILE


@dataclass
class Run:
    """One finished run: its record, where it was found, and its per-user test vectors."""

    path: Path                       # the results.json file
    record: RunRecord
    per_user_file: Path | None       # per_user_test.parquet, when the run wrote one
    source: str = ""                 # the PATH argument it was found under

    @property
    def directory(self) -> Path:
        return self.path.parent

    # The record's fields the leaderboard groups and ranks by.
    model = property(lambda self: self.record.model)
    dataset = property(lambda self: self.record.dataset)
    split = property(lambda self: self.record.split)
    seed = property(lambda self: self.record.seed)
    metrics = property(lambda self: self.record.metrics)
    config = property(lambda self: self.record.config)
    n_params = property(lambda self: self.record.n_params)
    train_seconds = property(lambda self: self.record.timing.train_seconds)
    eval_seconds = property(lambda self: self.record.timing.eval_seconds)


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


def read_run(file: Path, collection: Collection) -> Run | None:
    """Read one results.json; ``None`` (with a warning) when it cannot be used at all."""
    try:
        record = RunRecord.load(file, warn=lambda message: collection.warn(f"{file}: {message}"))
    except RecordError as error:
        collection.warn(f"{file}: skipped, {error}")
        return None
    per_user = file.parent / record.artifacts.get("per_user_test", "per_user_test.parquet")
    if not per_user.is_file():
        collection.warn(f"{file}: no per-user test vectors ({per_user.name}): this run is left out of "
                        "the significance tests")
        per_user = None
    return Run(path=file, record=record, per_user_file=per_user)
