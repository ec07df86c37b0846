"""The run folder: a fresh run never mixes its files with another run's; ``resume=true`` continues one.

Hydra has already written the new ``.hydra/`` config into the folder when the run starts, so a
previous run found there can no longer be kept intact in place. Refusing would leave exactly the
mix this module exists to prevent (the old results.json beside the new config); so the previous
run's files are moved aside into ``previous/<UTC time>/`` (its results.json holds its full
resolved config), with a warning, and the new run starts in a clean folder.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from recbench.errors import RecbenchError

log = logging.getLogger(__name__)
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
PREVIOUS = "previous"
# What a run writes into its folder. Only these move: the folder may hold the user's own files
# (hydra.run.dir=. is allowed), which must never be touched.
RUN_FILES = ("results.json", "per_user_test.parquet", "recommendations.parquet", "test.parquet",
             "checkpoints", "wandb", "csv", "lightning_logs")


def prepare_run_dir(folder: Path, resume: bool) -> Path | None:
    """Make ``folder`` ready for this run; returns the checkpoint to resume from, or None.

    Args:
        folder: the run folder (``paths.output_dir``).
        resume: continue the run in ``folder`` from its last checkpoint (``resume=true``).

    Raises:
        RecbenchError: ``resume`` without a checkpoint to continue from.
    """
    if resume:
        last = folder / LAST_CHECKPOINT
        if last.is_file():
            log.info("resuming from %s", last)
            return last
        if (folder / "results.json").is_file():
            raise RecbenchError(f"resume=true, but the run in {folder} already finished (results.json is there): "
                                "nothing to resume. Run without resume=true to start a new run")
        log.warning("resume=true, but %s holds no %s (the run stopped before its first epoch ended, or is a "
                    "fitted model): starting from the beginning", folder, LAST_CHECKPOINT)
        return None
    previous = [folder / name for name in RUN_FILES if (folder / name).exists()]
    if previous:
        aside = folder / PREVIOUS / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside.mkdir(parents=True, exist_ok=True)
        for path in previous:
            path.rename(aside / path.name)
        log.warning("%s held another run (%s): moved it to %s. Pass resume=true to continue a run instead",
                    folder, ", ".join(sorted(p.name for p in previous)), aside)
    return None
