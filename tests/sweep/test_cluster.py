"""Beyond one machine, with local stand-ins (docs/scale.md).

- A sweep through Hydra's submitit launcher, executor ``local``: on SLURM the same command takes
  ``hydra/launcher=submitit_slurm`` and a PostgreSQL storage; here each trial is a job that submitit
  starts as its own process, and the study is SQLite. hydra-submitit-launcher is in the dev extra,
  so a missing launcher fails here rather than skipping.
- Multi-node DDP: ``trainer.num_nodes=2`` with two processes started as two nodes (``NODE_RANK``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.ddp_check import assert_ddp_matches_a_single_process
from tests.helpers import TINY_DATA
from tests.sweep.sweeps import load, run_results, run_sweep

pytestmark = pytest.mark.slow


def test_a_sweep_through_the_submitit_launcher_fills_one_study(tmp_path):
    run_sweep("hparams_search=mlp_optuna", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20",
              "hydra.launcher.cpus_per_task=1", f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.n_trials=3",
              "hydra.sweeper.n_jobs=2", "hydra.sweeper.sampler.seed=1")

    trials = load(f"sqlite:///{tmp_path}/optuna.db", "mlp-synthetic").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    for trial in trials:
        results = run_results(trial)  # each job wrote its own run, with the sampled settings
        assert results["config"]["model"]["optimizer"]["lr"] == trial.params["model.optimizer.lr"]
        assert trial.value == results["metrics"]["valid/ndcg@10"]

    # The jobs really went through submitit: a job folder each (batches of n_jobs=2, then 1)
    # holding the pickled Hydra JobReturn, whose run folder and value are a trial's.
    jobs = sorted((tmp_path / ".submitit").glob("*/*_result.pkl"))
    assert len(jobs) == 3
    returned = set()
    for path in jobs:
        # Trusted: submitit wrote these pickles moments ago, in this test's own tmp_path.
        status, job_return = pickle.loads(path.read_bytes())
        assert status == "success"
        returned.add((Path(job_return.hydra_cfg.hydra.runtime.output_dir), job_return.return_value))
    assert returned == {(Path(t.user_attrs["output_dir"]), t.value) for t in trials}
    assert {folder for folder, _ in returned} == {tmp_path / str(number) for number in range(3)}


def test_two_nodes_test_every_user_once_as_a_single_process_does(tmp_path):
    node0, node1 = assert_ddp_matches_a_single_process(["model=multvae", "model.batch_size=32", *TINY_DATA],
                                                       tmp_path, nodes=2)
    # One process group of two: only global rank 0 reports epochs (two separate one-process runs
    # would both be rank 0, and both print them).
    assert "epoch 2/2" in node0 and "epoch 2/2" not in node1
