"""The leaderboard and Weights & Biases: read runs from a project, push the table.

Reading needs online access (``wandb.Api``). Each W&B run is turned into the same files a local
run writes (its saved ``results.json`` and ``per_user_test.parquet``, see
:mod:`recbench.tracking`), cached under one folder, and then read like local runs. A run that saved
no results.json is rebuilt from its config and summary, without per-user vectors.
"""

from __future__ import annotations

import logging
from pathlib import Path

from recbench.errors import RecbenchError
from recbench.record import RecordError, RunRecord
from recbench.results import RESULTS_FILE

log = logging.getLogger("recbench.leaderboard")
PER_USER_FILE = "per_user_test.parquet"


def download_project(project: str, cache_dir: Path) -> list[Path]:
    """Fetch every finished run of ``ENTITY/PROJECT`` into ``cache_dir/<run id>/``."""
    import wandb

    try:
        runs = list(wandb.Api().runs(project, filters={"state": "finished"}))
    except Exception as error:  # wandb raises CommError, ValueError, HTTP errors...
        raise RecbenchError(f"could not read W&B project {project!r} ({error}): check the name "
                            "(ENTITY/PROJECT), your login (wandb login) and network access") from None
    folders = []
    for run in runs:
        folder = cache_dir / run.id
        folder.mkdir(parents=True, exist_ok=True)
        names = {file.name for file in run.files()}
        for name in (RESULTS_FILE, PER_USER_FILE):
            if name in names:
                run.file(name).download(root=str(folder), replace=True)
        if not (folder / RESULTS_FILE).is_file():
            log.warning("W&B run %s saved no %s: rebuilt from its summary, without per-user vectors",
                        run.path, RESULTS_FILE)
            try:
                RunRecord.from_summary(dict(run.config), dict(run.summary)).save(folder)
            except RecordError as error:
                log.warning("W&B run %s skipped: %s", run.path, error)
                continue
        folders.append(folder)
    return folders


def push_table(board, project: str, entity: str | None = None, mode: str | None = None,
               directory: Path | None = None) -> Path:
    """Log the leaderboard as a ``wandb.Table`` in a new run (``job_type="leaderboard"``) of
    ``project`` (``PROJECT`` or ``ENTITY/PROJECT``).

    ``mode`` is W&B's (``online``/``offline``; default: ``$WANDB_MODE`` or offline). Returns the
    run's local folder (an offline run is uploaded later with ``wandb sync`` on it).
    """
    import os

    import wandb

    if entity is None and "/" in project:
        entity, project = project.split("/", 1)
    frame = board.table.reset_index(drop=True)
    columns = ["rank", "label", "dataset", "split", "model", "n_seeds", *board.columns,
               *(m + ":std" for m in board.columns), "train_seconds", "eval_seconds", "n_params"]
    columns += [c for c in ("p_holm", "significant") if board.test]
    frame = frame[columns].astype({"n_params": float})
    run = wandb.init(project=project, entity=entity, job_type="leaderboard",
                     dir=str(directory) if directory else None,
                     mode=mode or os.environ.get("WANDB_MODE", "offline"),
                     config={"sort": board.sort, "test": board.test, "alpha": board.alpha},
                     reinit="finish_previous")
    run.log({"leaderboard": wandb.Table(dataframe=frame)})
    run.summary["significance"] = board.significance_note
    folder = Path(run.dir).parent
    run.finish()
    return folder
