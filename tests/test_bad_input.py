"""Each bad input ends with one readable message, a non-zero exit and no results file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recbench.experiment import main
from tests.helpers import compose_config

ROOT = Path(__file__).resolve().parent.parent


def assert_fails_cleanly(tmp_path, capsys, overrides, message):
    """Run in-process through Hydra's task function; expect exit 1, ``message``, no results."""
    cfg = compose_config(overrides, tmp_path, tiny=not any(o.startswith("dataset=") for o in overrides))
    with pytest.raises(SystemExit) as exit_info:
        main(cfg)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "results.json").exists()
    assert not list(tmp_path.glob("*.parquet"))
    return err


@pytest.mark.parametrize("overrides, message", [
    (["model.embedding_dim=0"], "model.embedding_dim must be a positive integer, got 0"),
    (["model.optimizer.lr=-0.1"], "Invalid learning rate: -0.1"),
    (["trainer.max_epochs=0"], "trainer.max_epochs must be a positive integer, got 0"),
    (["model.dropout=1.5"], "model.dropout must be in [0, 1)"),
    (["evaluation.ks=[0]"], "evaluation.ks must be a list of positive integers"),
    (["split.ratios=[0.5,0.1,0.1]"], "sum to 1"),
    (["+model.embeding_dim=8"], "does not take"),
    (["evaluation.monitor=ndcg@10"], "evaluation.monitor='ndcg@10' must name a validation metric"),
    (["evaluation.monitor=valid/ndcg@50"], "with k in evaluation.ks=[10, 20]"),
    (["optimized_metric=valid/recall@10"], "disagrees with evaluation.monitor='valid/ndcg@10'"),
    (["optimized_metric=[timing/train_seconds,valid/ndcg@10]"], "to add objectives, list them after it"),
])
def test_impossible_values(tmp_path, capsys, overrides, message):
    assert_fails_cleanly(tmp_path, capsys, overrides, message)


def test_nan_loss_stops_with_a_message(tmp_path, capsys):
    err = assert_fails_cleanly(tmp_path, capsys, ["model._target_=tests.fixtures.broken_plugins.NaNLossMLP"],
                        "training loss of NaNLossMLP became NaN or infinite")
    assert "lower the learning rate" in err


def test_missing_data_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RECBENCH_DATA_DIR", str(tmp_path / "nowhere"))
    err = assert_fails_cleanly(tmp_path, capsys, ["dataset=ml-100k"], "dataset 'ml-100k' not found")
    assert "u.data" in err and "RECBENCH_DATA_DIR" in err


def test_malformed_ratings_file(tmp_path, capsys):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t5\t881250949\n1\t3\tfive\t881250950\n")
    (folder / "u.item").write_text("2|A (1995)|01-Jan-1995||url|0\n3|B (1995)|01-Jan-1995||url|0\n")
    (folder / "u.genre").write_text("unknown|0\n")
    err = assert_fails_cleanly(tmp_path, capsys, ["dataset=ml-100k", f"dataset.path={folder}"],
                        "line 2: column 2 (rating) holds 'five'")
    assert str(folder / "u.data") in err


def run_cli(tmp_path, *overrides):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "logger=none", f"hydra.run.dir={tmp_path}",
                           *overrides], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


@pytest.mark.parametrize("override, message", [
    ("model=no_such_model", "Could not find 'model/no_such_model'"),
    ("dataset=no_such_data", "Could not find 'dataset/no_such_data'"),
    ("model.embeding_dim=8", "Key 'embeding_dim' is not in struct"),
])
def test_unknown_names_and_misspelt_keys_from_the_command_line(tmp_path, override, message):
    completed = run_cli(tmp_path, override)
    assert completed.returncode != 0
    assert message in completed.stderr
    assert not (tmp_path / "results.json").exists()


def test_command_line_error_is_one_line_without_traceback(tmp_path):
    completed = run_cli(tmp_path, "model.embedding_dim=0")
    assert completed.returncode == 1
    assert "error: model.embedding_dim must be a positive integer, got 0" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "results.json").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from recbench.results import _atomic_write

    def broken(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        _atomic_write(tmp_path / "results.json", broken)
    assert list(tmp_path.iterdir()) == []
