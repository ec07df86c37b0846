"""W&B, offline: what a run logs, the group of a multirun, and the leaderboard pushed as a table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recbench.experiment import train
from recbench.leaderboard import build_leaderboard, collect_runs
from recbench.leaderboard.wandb_io import push_table
from recbench.record import RunRecord
from tests.helpers import TINY_DATA, compose_config
from tests.leaderboard.wandb_records import logged

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = ["logger=wandb", "logger.mode=offline"]


def offline_run_file(folder: Path) -> Path:
    files = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 1, f"expected one offline run under {folder}, found {files}"
    return files[0]


def test_a_run_logs_config_curves_summary_tags_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    results = train(compose_config(["model=mlp", "seed=3", "trainer.max_epochs=2", *OFFLINE], tmp_path))
    run_file = offline_run_file(tmp_path)
    run, config, summary, history = logged(run_file)
    assert list(run.tags) == ["model:mlp", "dataset:synthetic", "split:random"]
    assert run.display_name == "mlp-synthetic-seed3" and run.run_group == ""   # single run: no group
    assert config["model"]["_target_"] == "plugins.mlp.MLP" and config["seed"] == 3
    epochs = [row["epoch"] for row in history if "valid/ndcg@10" in row and "epoch" in row]
    assert epochs[:2] == [0, 1]                                            # one point per epoch
    for key, value in results.metrics.items():
        assert summary[key] == pytest.approx(value, rel=1e-6), key
    assert summary["n_params"] == results.n_params and summary["model"] == "mlp"
    assert summary["train_seconds"] == pytest.approx(results.timing.train_seconds)
    # results.json and the per-user vectors travel with the run, so `wandb sync` uploads them.
    files = run_file.parent / "files"
    assert json.loads((files / "results.json").read_text())["metrics"] == results.metrics
    assert (files / "per_user_test.parquet").read_bytes() == (tmp_path / "per_user_test.parquet").read_bytes()
    # The copy inside the W&B folder is not a second run.
    assert [run.path for run in collect_runs([tmp_path]).runs] == [tmp_path / "results.json"]


@pytest.mark.slow
def test_multirun_jobs_get_their_own_runs_in_one_group(tmp_path):
    """Two jobs of one process: each its own W&B run (the first is finished), both in the sweep's group."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "run.py", "-m", "model=pop", "seed=1,2", *OFFLINE, *TINY_DATA,
                    f"hydra.sweep.dir={sweep}"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    runs = [logged(offline_run_file(sweep / job))[0] for job in ("0", "1")]
    assert runs[0].run_id != runs[1].run_id
    assert runs[0].run_group == runs[1].run_group == str(sweep)
    assert [r.display_name for r in runs] == ["pop-synthetic-seed1", "pop-synthetic-seed2"]


def test_leaderboard_pushed_as_a_table_offline(runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    board = build_leaderboard(collect_runs([runs_root / "main"]))
    folder = push_table(board, "recbench-test", mode="offline", directory=tmp_path)
    assert folder.is_dir() and list(folder.glob("run-*.wandb"))
    tables = list((folder / "files" / "media" / "table").glob("leaderboard_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert len(table["data"]) == 2
    rows = {row[table["columns"].index("label")]: row for row in table["data"]}
    column = table["columns"].index("test/ndcg@10")
    for _, group in board.table.iterrows():
        assert rows[group["label"]][column] == pytest.approx(group["test/ndcg@10"])
    assert rows["mlp"][table["columns"].index("significant")] is True


def test_results_rebuilt_from_a_wandb_summary_read_like_local_runs(tmp_path):
    summary = {"model": "pop", "dataset": "synthetic", "split": "random", "seed": 1, "n_params": 0,
               "test/ndcg@10": 0.25, "valid/ndcg@10": 0.2, "train_seconds": 0.5, "_runtime": 3,
               "trainer/global_step": 4}
    RunRecord.from_summary({"seed": 1, "model": {"_target_": "plugins.pop.Pop"}}, summary).save(tmp_path / "r1")
    collection = collect_runs([tmp_path])
    run = collection.runs[0]
    assert (run.model, run.dataset, run.split, run.seed) == ("pop", "synthetic", "random", 1)
    assert run.metrics == {"test/ndcg@10": 0.25, "valid/ndcg@10": 0.2} and run.train_seconds == 0.5
    assert run.per_user_file is None
