"""Running real sweeps (``python run.py -m ...``) as subprocesses, and reading their studies back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from tests.helpers import TINY_DATA

ROOT = Path(__file__).resolve().parents[2]
TINY = ["logger=none", "trainer.enable_progress_bar=false", "trainer.max_epochs=2", *TINY_DATA]


def sweep_command(*overrides: str) -> list[str]:
    return [sys.executable, "run.py", "-m", *TINY, *overrides]


def sweep_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}


def run_sweep(*overrides: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``python run.py -m`` on tiny data; fail the test with the output when it fails."""
    done = subprocess.run(sweep_command(*overrides), cwd=ROOT, env=sweep_env(), capture_output=True,
                          text=True, timeout=900)
    if expect_ok:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def load(storage, name: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage)


def run_results(trial: FrozenTrial) -> dict:
    """The results.json of the run behind a trial."""
    return json.loads((Path(trial.user_attrs["output_dir"]) / "results.json").read_text())
