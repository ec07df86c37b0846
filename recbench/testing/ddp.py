"""The slow part of the conformance kit: a real ``run.py`` run under ``trainer=ddp`` on 2 CPU processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

import recbench
from recbench.config import build
from recbench.data.loading import load_dataset
from recbench.errors import RecbenchError

_TEMP_OPTION = "check_plugin_model"


def find_repo_root(repo_root: str | Path | None = None) -> Path:
    """The recbench checkout (a folder with ``run.py`` and ``conf/config.yaml``).

    Looks at ``repo_root`` when given, else the working directory, else the folder above the
    imported ``recbench`` package.
    """
    candidates = [Path(repo_root)] if repo_root else [Path.cwd(), Path(recbench.__file__).resolve().parents[1]]
    for candidate in candidates:
        if (candidate / "run.py").is_file() and (candidate / "conf" / "config.yaml").is_file():
            return candidate.resolve()
    raise RecbenchError(f"no recbench checkout (a folder with run.py and conf/config.yaml) at "
                        f"{', '.join(map(str, candidates))}: run from the checkout or pass repo_root=")


def check_ddp_run(cfg: DictConfig, option: str | None, repo_root: Path, seed: int, n_users: int,
                  n_items: int, fail: Callable[[str], None], timeout: float = 600,
                  split: str | None = None) -> None:
    """Run ``python run.py model=<option> trainer=ddp trainer.devices=2 trainer.accelerator=cpu``.

    The run must succeed, report finite metrics, and evaluate every test user exactly once
    (the users are recomputed here from the run's own resolved config). A model given as a
    config rather than by name is written to a temporary config folder joined to the search path.

    Args:
        cfg: the model config.
        option: its config option name, or None when it has none.
        repo_root: the recbench checkout to run in.
        seed: the run's seed.
        n_users: users of the synthetic data.
        n_items: items of the synthetic data.
        fail: called with a message when the run breaks the contract (it raises).
        timeout: seconds before the run counts as hung.
        split: the split option to run with (sequence models need ``leave_one_out``); None: the default.
    """
    with tempfile.TemporaryDirectory(prefix="recbench-ddp-check-") as tmp:
        tmp = Path(tmp)
        extra = []
        if option is None:
            option = _TEMP_OPTION
            (tmp / "conf" / "model").mkdir(parents=True)
            (tmp / "conf" / "model" / f"{option}.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
            extra.append(f"hydra.searchpath=['{(tmp / 'conf').as_uri()}']")
        run_dir = tmp / "run"
        command = [sys.executable, "run.py", f"model={option}", "trainer=ddp", "trainer.devices=2",
                   "trainer.accelerator=cpu", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                   "logger=none", "dataset=synthetic", f"dataset.source.n_users={n_users}",
                   f"dataset.source.n_items={n_items}", "dataset.source.mean_interactions=10",
                   f"seed={seed}", f"hydra.run.dir={run_dir}", *([f"split={split}"] if split else []), *extra]
        # The run imports what this process imports (a plugin found through sys.path, say).
        paths = [entry for entry in sys.path if entry and Path(entry).is_dir()]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        try:
            done = subprocess.run(command, cwd=repo_root, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            fail(f"`{' '.join(command[1:])}` did not finish in {timeout:.0f} s (a process may wait for a "
                 "collective the other never reaches)")
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            fail(f"`{' '.join(command[1:])}` exited with status {done.returncode}:\n{tail}")
        results = json.loads((run_dir / "results.json").read_text())
        trainer = results["config"]["trainer"]
        if trainer.get("strategy") != "ddp" or trainer.get("devices") != 2:
            fail(f"the run did not use 2 DDP processes (trainer config: {trainer})")
        not_finite = sorted(k for k, v in results["metrics"].items() if not math.isfinite(v))
        if not_finite:
            fail(f"the 2-process run reported non-finite metrics: {', '.join(not_finite)}")
        evaluated = pd.read_parquet(run_dir / "per_user_test.parquet")["user_id"].astype(str)
        expected = _test_user_ids(results["config"])
        if evaluated.duplicated().any() or set(evaluated) != expected:
            fail(f"the 2-process run evaluated {len(evaluated)} test users ({evaluated.nunique()} distinct), "
                 f"expected each of the {len(expected)} test users exactly once")


def _test_user_ids(config: dict) -> set[str]:
    """Original ids of the users with a test target, from a run's resolved config."""
    data = load_dataset(OmegaConf.create(config["dataset"]))
    split_cfg = OmegaConf.create(config["split"])
    split = build(split_cfg, "split")(data, seed=split_cfg.get("seed", config["seed"]))
    return set(data.user_ids[np.flatnonzero(np.diff(split.test.indptr) > 0)].astype(str))
