"""Cluster sweeps with a local stand-in: Hydra's submitit launcher, executor ``local``.

On a SLURM cluster the same command uses ``hydra/launcher=submitit_slurm`` and a PostgreSQL
storage (see docs/scale.md); here the jobs are local processes submitted through submitit and the
study is SQLite.
"""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from tests.sweep.sweeps import load, run_results, run_sweep

pytestmark = pytest.mark.slow


def test_a_sweep_through_the_submitit_launcher_fills_one_study(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    run_sweep("hparams_search=mlp_optuna", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20",
              "hydra.launcher.cpus_per_task=1", f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.n_trials=2",
              "hydra.sweeper.n_jobs=2", "hydra.sweeper.sampler.seed=1")
    trials = load(f"sqlite:///{tmp_path}/optuna.db", "mlp-synthetic").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    for trial in trials:
        results = run_results(trial)  # each job wrote its own run, with the sampled settings
        assert results["config"]["model"]["optimizer"]["lr"] == trial.params["model.optimizer.lr"]
        assert trial.value == results["metrics"]["valid/ndcg@10"]
    assert list(tmp_path.glob(".submitit/*/*_submitted.pkl"))  # the jobs really went through submitit
