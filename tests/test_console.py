"""What a run prints: one line per epoch in a log, no third-party banners, the result last."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from recbench.console import THIRD_PARTY_LOGGERS, metrics_table, progress_bars_wanted, quiet_third_party, relative
from recbench.experiment import train
from recbench.record import RunRecord
from recbench.tracking import wandb_location
from tests.conftest import data_dir_problem
from tests.helpers import TINY_DATA, compose_config

ROOT = Path(__file__).resolve().parent.parent
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)  train/loss (\d\.\d{4})  valid/ndcg@10 (\d\.\d{4})( \*|  )  \d+\.\d s$")


def test_progress_bars_only_on_a_terminal(tmp_path):
    master, terminal = os.openpty()
    try:
        with open(terminal, "w", closefd=False) as tty, open(tmp_path / "log", "w") as log_file:
            assert progress_bars_wanted(None, tty) is True
            assert progress_bars_wanted(None, log_file) is False
            assert progress_bars_wanted(False, tty) is False      # an explicit setting wins
            assert progress_bars_wanted(True, log_file) is True
    finally:
        os.close(master)
        os.close(terminal)


def test_one_line_per_epoch_agrees_with_the_record(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="recbench")
    record = train(compose_config(["model=mlp", "trainer.max_epochs=4", "evaluation.patience=10"], tmp_path))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    parsed = [EPOCH_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(int(m[1]), int(m[2])) for m in parsed] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    values = [float(m[4]) for m in parsed]
    # '*' marks each new best, so the last '*' is the epoch whose weights were tested.
    stars = [i for i, m in enumerate(parsed) if m[5] == " *"]
    assert stars[0] == 0 and all(values[i] >= max(values[:i]) for i in stars[1:])
    assert stars[-1] == record.timing.best_epoch
    assert values[record.timing.best_epoch] == pytest.approx(record.metrics["valid/ndcg@10"], abs=5e-5)


def test_metrics_table_puts_each_k_in_a_column():
    lines = metrics_table({"ndcg@10": 0.25, "recall@10": 0.5, "ndcg@20": 0.125, "auc": 0.75})
    assert lines == ["                      @10      @20",
                     "  ndcg             0.2500   0.1250",
                     "  recall           0.5000        -",
                     "  auc            0.7500"]


def test_wandb_location_is_one_line_with_the_sync_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "outputs" / "wandb" / "offline-run-1"
    assert wandb_location(True, str(run_dir), None) == (
        "W&B run (offline): outputs/wandb/offline-run-1; upload it with: wandb sync outputs/wandb/offline-run-1")
    assert wandb_location(False, str(run_dir), "https://wandb.ai/me/recbench/runs/x") == (
        "W&B run: https://wandb.ai/me/recbench/runs/x")
    assert relative("/somewhere/else") == "/somewhere/else"


@pytest.fixture
def restore_logger_levels():
    levels = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_third_party_noise_is_quiet_and_recbench_warnings_are_not(restore_logger_levels):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        assert logging.getLogger("pytorch_lightning.utilities.rank_zero").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("lightning_fabric.utilities.seed").getEffectiveLevel() == logging.WARNING
        # The deprecation Lightning triggers inside torch, as Python attributes it...
        warnings.warn_explicit("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning,
                               "_pytree.py", 21, module="pytorch_lightning.utilities._pytree")
        # ...and a hint about a choice recbench makes on purpose.
        warnings.warn_explicit("The 'train_dataloader' does not have many workers which may be a bottleneck.",
                               UserWarning, "data_connector.py", 1, module="pytorch_lightning.trainer")
        # recbench's own warnings stay, whatever their category.
        warnings.warn_explicit("model.lr is deprecated", FutureWarning, "x.py", 1, module="recbench.experiment")
        warnings.warn_explicit("a real problem", UserWarning, "x.py", 1, module="plugins.mlp")
    assert [str(w.message) for w in caught] == ["model.lr is deprecated", "a real problem"]


@pytest.mark.parametrize("value, problem", [
    (None, None), ("", "set but empty"), ("datasets", "relative path"), ("/no/such/folder", "not a folder"),
])
def test_a_wrong_data_folder_is_named(value, problem):
    found = data_dir_problem(value)
    assert (found is None) if problem is None else (problem in found and "RECBENCH_DATA_DIR" in found)
    assert data_dir_problem(str(ROOT)) is None


def run_cli(cwd: Path, *overrides: str, **env_vars: str) -> subprocess.CompletedProcess:
    """``python run.py`` as a user runs it, output to a pipe (no terminal), W&B offline and not silenced."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SILENT"}
    env.update(PYTHONPATH=str(ROOT), WANDB_MODE="offline", RECBENCH_CACHE_DIR=str(cwd / "cache"), **env_vars)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_console_of_a_run_without_a_terminal(tmp_path):
    done = run_cli(tmp_path, *TINY_DATA, "trainer.max_epochs=3", "evaluation.patience=10")
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    for noise in ("GPU available", "TPU available", "Seed set", "Tip:", "Restoring states", "Loaded model weights",
                  "LeafSpec", "wandb:", "litlogger", "│", "━"):
        assert noise not in out, f"{noise!r} in:\n{out}"
    lines = done.stdout.splitlines()
    assert sum(bool(EPOCH_LINE.match(line)) for line in lines) == 3
    (results,) = tmp_path.glob("outputs/runs/*/*/results.json")
    run_dir = results.parent.relative_to(tmp_path)
    (sync_dir,) = (tmp_path / run_dir / "wandb").glob("offline-run-*")
    record = RunRecord.load(results.parent)
    assert f"W&B run (offline): {sync_dir.relative_to(tmp_path)}; upload it with: wandb sync " in done.stdout
    # The last lines: the test metrics, then the path of results.json.
    assert lines[-1] == f"results: {run_dir / 'results.json'}"
    header = max(i for i, line in enumerate(lines) if line.startswith("test metrics of mlp on synthetic (train "))
    table = lines[header + 1:-1]   # the metrics, then one line per item segment (warm, head, tail)
    ndcg = next(line for line in table if line.split()[0] == "ndcg")
    assert ndcg.split()[1:] == [f"{record.metrics['test/ndcg@10']:.4f}", f"{record.metrics['test/ndcg@20']:.4f}"]
    head = next(line for line in table if line.split()[0] == "head")
    assert f"{record.metrics['test/head/ndcg@10']:.4f}" in head
    assert len(table) <= 14 and len(lines) <= 28, done.stdout


def test_a_missing_dataset_is_reported_once(tmp_path):
    done = run_cli(tmp_path, "logger=none", "dataset=ml-1m", "dataset.download=false",
                   RECBENCH_DATA_DIR=str(tmp_path / "nowhere"))
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert out.count("dataset 'ml-1m' not found") == 1, out
    assert done.stderr.startswith("error: dataset 'ml-1m' not found") and "Traceback" not in out
