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


def custom_data(tmp_path, rows) -> list[str]:
    file = tmp_path / "r.csv"
    file.write_text("user,item\n" + "".join(f"{u},{i}\n" for u, i in rows))
    return ["dataset=custom", f"dataset.source.file={file}"]


@pytest.mark.parametrize("model", ["pop", "mf"])
@pytest.mark.parametrize("rows", [
    [(u, "a") for u in range(20)],                                  # one item
    [(u, u % 5) for u in range(20)],                                # one interaction per user
], ids=["one_item", "one_interaction_per_user"])
def test_degenerate_data_is_one_message(tmp_path, capsys, model, rows):
    assert_fails_cleanly(tmp_path, capsys, custom_data(tmp_path, rows) + [f"model={model}"],
                         "the split leaves no test targets")


@pytest.mark.parametrize("model", ["pop", "mf"])
def test_cut_off_beyond_the_number_of_items_runs(tmp_path, model):
    # 6 items, K up to 50; every user has seen 5 of them.
    rows = [(u, i) for u in range(30) for i in range(6) if i != u % 6]
    cfg = compose_config(custom_data(tmp_path, rows) + [f"model={model}", "evaluation.ks=[10,50]",
                                                         "split.ratios=[0.6,0.2,0.2]"], tmp_path, tiny=False)
    from recbench.experiment import train
    results = train(cfg)
    assert results.metrics["test/recall@50"] == 1.0  # every target is somewhere in the full list


def test_missing_mandatory_values_are_one_message(tmp_path, capsys):
    err = assert_fails_cleanly(tmp_path, capsys, ["dataset=custom", "split=predefined"],
                               "missing mandatory value(s): dataset.source.file, split.test, split.train")
    assert err.count("error:") == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_trainer_without_gpu_fails_before_reading_data_or_logging(tmp_path, capsys, monkeypatch):
    # The dataset folder does not exist: a data error would mean the check came too late.
    monkeypatch.chdir(tmp_path)
    cfg_overrides = ["trainer=gpu", "dataset=ml-100k", f"dataset.path={tmp_path / 'nowhere'}"]
    err = assert_fails_cleanly(tmp_path, capsys, cfg_overrides, "trainer.accelerator=gpu, but this machine has no")
    assert "nowhere" not in err
    assert not list(tmp_path.rglob("wandb")) and not list(tmp_path.rglob("*.wandb"))


@pytest.mark.parametrize("overrides, message", [
    (["evaluation.monitor=valid/ndcg@5"], "evaluation.monitor='valid/ndcg@5' must name a validation metric"),
    (["evaluation.monitor=valid/ndgc@10"], "evaluation.monitor='valid/ndgc@10' must name a validation metric"),
    (["dataset=custom", "dataset.source.file=r.csv", "dataset.url=file:///etc/passwd"],
     "only https (or http with dataset.sha256)"),
])
def test_values_used_late_are_checked_up_front(tmp_path, capsys, overrides, message):
    assert_fails_cleanly(tmp_path, capsys, overrides, message)


def test_unwritable_output_folder_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = compose_config([], blocker / "run")
    with pytest.raises(SystemExit):
        main(cfg)
    assert "cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    import stat

    from recbench.results import write_json, write_parquet

    old = os.umask(umask)
    try:
        write_json(tmp_path / "results.json", {"a": 1})
        write_parquet(tmp_path / "per_user_test.parquet", __import__("pandas").DataFrame({"a": [1]}))
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)


def test_an_incompatible_model_fails_alone_and_is_skipped_in_a_benchmark(tmp_path, capsys):
    # A sequence model on the random split (no time order): an error of its own in a single run,
    # a skipped job (no result, no error) when the benchmark preset sets skip_incompatible.
    assert_fails_cleanly(tmp_path / "alone", capsys, ["model=sasrec"], "has no time order")
    cfg = compose_config(["model=sasrec", "skip_incompatible=true"], tmp_path / "bench")
    assert main(cfg) is None
    assert not (tmp_path / "bench" / "results.json").exists()
