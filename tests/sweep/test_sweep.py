"""Real sweeps through ``python run.py -m``, read back from their SQLite (or PostgreSQL) studies."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

from tests.sweep.sweeps import ROOT, load, run_results, run_sweep, sweep_command, sweep_env

pytestmark = pytest.mark.slow

# The declared space of conf/hparams_search/mlp_optuna.yaml, written out independently.
MLP_SPACE = {
    "model.optimizer.lr": lambda v: 1e-4 <= v <= 3e-2,
    "model.optimizer.weight_decay": lambda v: 1e-8 <= v <= 1e-3,
    "model.embedding_dim": lambda v: v in (16, 32, 64, 128),
    "model.hidden_dims": lambda v: v in ("[64]", "[64,32]", "[128,64,32]", "[256,128,64]"),
    "model.dropout": lambda v: 0.0 <= v <= 0.5,
    "model.num_negatives": lambda v: v in range(1, 9),
}


@pytest.fixture(scope="module")
def resumed_sweep(tmp_path_factory) -> dict:
    """The MLP preset run for 3 trials, then rerun with n_trials=6 on the same storage."""
    sweep_dir = tmp_path_factory.mktemp("mlp_sweep")
    args = ["hparams_search=mlp_optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.sampler.seed=3"]
    run_sweep(*args, "hydra.sweeper.n_trials=3")
    storage = f"sqlite:///{sweep_dir}/optuna.db"
    after_first = [t.state for t in load(storage, "mlp-synthetic").trials]
    run_sweep(*args, "hydra.sweeper.n_trials=6")
    return {"dir": sweep_dir, "study": load(storage, "mlp-synthetic"), "after_first": after_first}


def test_resume_runs_only_the_missing_trials(resumed_sweep):
    assert resumed_sweep["after_first"] == [TrialState.COMPLETE] * 3
    trials = resumed_sweep["study"].trials
    assert [t.number for t in trials] == list(range(6))
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6


def test_every_sampled_value_is_in_its_range_and_reached_the_run(resumed_sweep):
    for trial in resumed_sweep["study"].trials:
        assert set(trial.params) == set(MLP_SPACE)
        for key, inside in MLP_SPACE.items():
            assert inside(trial.params[key]), (trial.number, key, trial.params[key])
        model = run_results(trial)["config"]["model"]
        assert model["optimizer"]["lr"] == trial.params["model.optimizer.lr"]
        assert model["embedding_dim"] == trial.params["model.embedding_dim"]
        assert str(model["hidden_dims"]).replace(" ", "") == trial.params["model.hidden_dims"]
        assert model["num_negatives"] == trial.params["model.num_negatives"]
        assert Path(trial.user_attrs["output_dir"]) == resumed_sweep["dir"] / str(trial.number)


def test_best_value_is_the_best_trials_metric_and_its_results_json(resumed_sweep):
    study = resumed_sweep["study"]
    values = {t.number: t.value for t in study.trials}
    best = study.best_trial
    assert best.value == max(values.values())
    results = run_results(best)
    assert best.value == results["metrics"]["valid/ndcg@10"]
    # Each epoch's validation metric was reported; the final value is the best epoch's.
    assert sorted(best.intermediate_values) == [0, 1]
    assert best.value == pytest.approx(max(best.intermediate_values.values()))
    summary = yaml.safe_load((resumed_sweep["dir"] / "optimization_results.yaml").read_text())
    assert summary["trials"] == {"complete": 6}
    top, = summary["best_trials"]
    assert top["number"] == best.number and top["values"] == {"valid/ndcg@10": best.value}
    assert top["metrics"] == results["metrics"]
    assert f"model.optimizer.lr={best.params['model.optimizer.lr']!r}" in top["overrides"]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_killed_sweep_resumes_and_reruns_the_interrupted_trial(tmp_path, how):
    """SIGTERM: the sweep marks its running trial interrupted. SIGKILL: the trial stays running
    until its heartbeat (every second here) is stale, and the resumed sweep fails it."""
    args = ["hparams_search=mlp_optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.heartbeat_interval=1",
            f"hydra.sweep.dir={tmp_path}"]
    sweep = subprocess.Popen(sweep_command(*args), cwd=ROOT, env=sweep_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while not (tmp_path / "1").exists() and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(how)  # while trial 1 runs
    assert sweep.wait(timeout=300) != 0
    storage = f"sqlite:///{tmp_path}/optuna.db"
    killed = load(storage, "mlp-synthetic").trials
    if how == signal.SIGTERM:
        assert [t.state for t in killed] == [TrialState.COMPLETE, TrialState.FAIL]
        assert killed[1].user_attrs["interrupted"]
    else:
        assert [t.state for t in killed] == [TrialState.COMPLETE, TrialState.RUNNING]
        time.sleep(2.5)  # past the grace period of two heartbeats

    run_sweep(*args)
    trials = load(storage, "mlp-synthetic").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert "fail_reason" not in trials[1].user_attrs
    assert all((Path(t.user_attrs["output_dir"]) / "results.json").is_file() for t in trials if t.number != 1)
    summary = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert summary["trials"] == {"complete": 3, "fail": 1} and summary["failures"] == {}


def test_two_workers_share_one_study_without_duplicates(tmp_path):
    """Same seed on purpose: trials are seeded by their number, so the workers still differ."""
    n_trials = 6
    storage = f"sqlite:///{tmp_path}/shared.db"
    args = ["hparams_search=mlp_optuna", f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared",
            f"hydra.sweeper.n_trials={n_trials}", "hydra.sweeper.sampler.seed=0", "trainer.max_epochs=1"]
    workers = [subprocess.Popen(sweep_command(*args, f"hydra.sweep.dir={tmp_path}/worker{i}"), cwd=ROOT,
                                env=sweep_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]

    trials = load(storage, "shared").trials
    # A worker that asked at the very moment the budget was met marks its trial surplus, unrun.
    ran = [t for t in trials if not t.user_attrs.get("surplus")]
    assert [t.number for t in ran] == sorted({t.number for t in ran}) and len(ran) == n_trials
    assert all(t.state == TrialState.COMPLETE for t in ran)
    assert all(t.state == TrialState.FAIL and not t.params for t in trials if t.user_attrs.get("surplus"))
    assert len({tuple(sorted(t.params.items())) for t in ran}) == n_trials
    dirs = {t.user_attrs["output_dir"] for t in ran}
    assert len(dirs) == n_trials and all((Path(d) / "results.json").is_file() for d in dirs)


def test_crashed_trials_are_failed_with_their_reason_and_the_sweep_goes_on(tmp_path):
    """A grid over a command-line sweep; dropout 1.5 is refused by the model."""
    run_sweep("hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=10",
              "model.dropout=0.2,1.5", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}")
    trials = sorted(load(f"sqlite:///{tmp_path}/optuna.db", "mlp-synthetic").trials,
                    key=lambda t: t.params["model.dropout"])
    assert len(trials) == 2  # n_trials is capped at the grid's size
    good, bad = trials
    assert good.state == TrialState.COMPLETE and good.value == run_results(good)["metrics"]["valid/ndcg@10"]
    assert bad.state == TrialState.FAIL and "model.dropout must be in [0, 1)" in bad.user_attrs["fail_reason"]
    summary = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert summary["trials"] == {"complete": 1, "fail": 1}
    assert "model.dropout" in summary["failures"][bad.number]


def test_a_misspelt_key_stops_the_sweep_before_any_trial(tmp_path):
    done = run_sweep("hydra/sweeper=optuna", "model.dropuot=0.1,0.2", f"hydra.sweep.dir={tmp_path}",
                     expect_ok=False)
    assert done.returncode != 0
    assert "search space does not fit the config" in done.stderr and "dropuot" in done.stderr
    assert not (tmp_path / "0").exists()


def test_pruning_stops_bad_trials_after_a_good_one(tmp_path):
    """One good learning rate and four hopeless ones; the median pruner starts after one trial."""
    # Seed 4 makes the grid sampler run the good rate first (Optuna 5.0), so every later trial
    # faces a median of good values.
    run_sweep("hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.sampler.seed=4",
              "hydra.sweeper.pruner.n_startup_trials=1", "hydra.sweeper.pruner.n_warmup_steps=0",
              "model.optimizer.lr=0.03,1e-7,2e-7,3e-7,4e-7", "trainer.max_epochs=4", "evaluation.patience=10",
              f"hydra.sweep.dir={tmp_path}")
    trials = load(f"sqlite:///{tmp_path}/optuna.db", "mlp-synthetic").trials
    good, = [t for t in trials if t.params["model.optimizer.lr"] == 0.03]
    assert good.state == TrialState.COMPLETE
    later_bad = [t for t in trials if t.number > good.number]
    assert later_bad, "seed 4 must order the good trial before some bad ones"
    for trial in later_bad:
        assert trial.state == TrialState.PRUNED
        assert len(trial.intermediate_values) < 4  # stopped before max_epochs
        assert not (Path(trial.user_attrs["output_dir"]) / "results.json").exists()


def test_two_objectives_give_a_pareto_front(tmp_path):
    run_sweep("hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.direction=[maximize,minimize]",
              "optimized_metric=[valid/ndcg@10,timing/train_seconds]", "model.embedding_dim=8,16",
              "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}")
    study = load(f"sqlite:///{tmp_path}/optuna.db", "mlp-synthetic")
    assert len(study.directions) == 2 and len(study.trials) == 2
    for trial in study.trials:
        results = run_results(trial)
        assert trial.values == [results["metrics"]["valid/ndcg@10"], results["timing"]["train_seconds"]]
    summary = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert {b["number"] for b in summary["best_trials"]} == {t.number for t in study.best_trials}


def test_pop_preset_on_a_journal_file_groups_its_wandb_run_by_study(tmp_path):
    """A fitted model, an empty space (one trial), Optuna's journal storage, W&B offline."""
    journal = tmp_path / "studies" / "pop.log"
    run_sweep("hparams_search=pop_optuna", f"hydra.sweeper.storage=journal:{journal}", "logger=wandb",
              "logger.mode=offline", "hydra.sweeper.n_trials=5", f"hydra.sweep.dir={tmp_path}/sweep")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = load(JournalStorage(JournalFileBackend(str(journal))), "pop-synthetic")
    trial, = study.trials  # nothing to search: one trial, whatever n_trials says
    results = run_results(trial)
    assert trial.state == TrialState.COMPLETE and trial.value == results["metrics"]["valid/ndcg@10"]
    assert results["config"]["logger"]["group"] == "pop-synthetic"
    assert not (tmp_path / "sweep" / "optuna.db").exists()


@pytest.mark.skipif(not os.environ.get("RECBENCH_TEST_POSTGRES_URL"),
                    reason="RECBENCH_TEST_POSTGRES_URL is not set: start a server with "
                           "eval \"$(.ci/postgres.sh)\" (CI does)")
def test_a_sweep_on_postgresql(tmp_path):
    url = os.environ["RECBENCH_TEST_POSTGRES_URL"]
    name = f"test-{uuid.uuid4().hex[:8]}"
    run_sweep("hparams_search=mlp_optuna", f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={name}",
              "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}")
    study = load(url, name)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert study.best_value == run_results(study.best_trial)["metrics"]["valid/ndcg@10"]
    assert not (tmp_path / "optuna.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_corrupt_storage_is_one_message(tmp_path, kind):
    file = tmp_path / ("study.db" if kind == "sqlite" else "study.log")
    file.write_bytes(b'{"op_code": 0, "worker_id": "x"\nnot json, not sqlite\x00\x01\n')
    spec = f"sqlite:///{file}" if kind == "sqlite" else f"journal:{file}"
    done = subprocess.run(sweep_command("model=pop", "hparams_search=pop_optuna", "hydra.sweeper.n_trials=1",
                                        f"hydra.sweeper.storage={spec}", f"hydra.sweep.dir={tmp_path / 'out'}"),
                          cwd=ROOT, env={**sweep_env(), "HYDRA_FULL_ERROR": "0"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "error: cannot" in done.stderr and "damaged" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr


@pytest.mark.slow
def test_a_sweep_rerun_right_after_kill_9_finishes_n_trials(tmp_path):
    """No waiting for heartbeats (a minute apart here): the dead trial's process is gone, so the
    rerun fails it at once and runs it again."""
    args = ["hparams_search=mlp_optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.heartbeat_interval=60",
            f"hydra.sweep.dir={tmp_path}"]
    sweep = subprocess.Popen(sweep_command(*args), cwd=ROOT, env=sweep_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while not (tmp_path / "1").exists() and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(signal.SIGKILL)  # while trial 1 runs
    sweep.wait(timeout=60)
    storage = f"sqlite:///{tmp_path}/optuna.db"
    assert [t.state for t in load(storage, "mlp-synthetic").trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    run_sweep(*args)  # at once
    trials = load(storage, "mlp-synthetic").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert trials[1].user_attrs["interrupted"] and trials[1].user_attrs["owner"]["pid"] == sweep.pid
