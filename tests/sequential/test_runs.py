"""Sequence models through run.py's task function: whole runs, bad input, exclude_history."""

import json
import logging

import pytest
import torch

from recbench.evaluation.evaluator import Evaluator
from recbench.experiment import train
from tests.helpers import compose_config
from tests.test_bad_input import assert_fails_cleanly

LOO = ["split=leave_one_out", "trainer.max_epochs=2"]


@pytest.mark.parametrize("model, split", [
    (["model=sasrec", "model.embedding_dim=16", "model.max_len=20"], "leave_one_out"),
    (["model=bert4rec", "model.embedding_dim=16", "model.max_len=20"], "leave_one_out"),
    (["model=markov", "model.max_len=3"], "leave_one_out"),
    (["model=markov", "model.max_len=3"], "temporal"),  # some test users have no history at all
])
def test_a_sequence_model_runs_on_a_time_ordered_split_and_writes_its_results(model, split, tmp_path):
    record = train(compose_config([*model, f"split={split}", "trainer.max_epochs=2"], tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["split"]["name"] == split
    assert 0 < results["metrics"]["test/hitrate@10"] <= 1
    assert record.metrics["test/ndcg@10"] == results["metrics"]["test/ndcg@10"]


def test_histories_longer_than_max_len_are_truncated_and_logged_once(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        train(compose_config(["model=markov", "model.max_len=2", *LOO], tmp_path))
    notes = [r.getMessage() for r in caplog.records if "model.max_len=2" in r.getMessage()]
    assert len(notes) == 1 and "see only the latest 2" in notes[0]


def test_a_sequence_model_on_a_split_without_order_fails_before_reading_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RECBENCH_DATA_DIR", str(tmp_path / "nowhere"))  # the data is never looked for
    assert_fails_cleanly(tmp_path, capsys, ["model=sasrec", "split=random", "dataset=ml-100k"],
                         "model=sasrec reads each user's history in time order, but split=random has no "
                         "time order")


@pytest.mark.parametrize("model", ["sasrec", "markov"])
def test_max_len_below_one_fails_before_reading_data(model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RECBENCH_DATA_DIR", str(tmp_path / "nowhere"))
    assert_fails_cleanly(tmp_path, capsys, [f"model={model}", "model.max_len=0", "split=leave_one_out",
                                            "dataset=ml-100k"],
                         "model.max_len must be a positive integer, got 0")


@pytest.mark.parametrize("override, message", [
    ("model.mask_prob=1.0", "model.mask_prob must be in (0, 1), got 1.0"),
    ("model.mask_last_prob=1.5", "model.mask_last_prob must be in [0, 1], got 1.5"),
])
def test_impossible_bert4rec_masking_is_one_message(override, message, tmp_path, capsys):
    assert_fails_cleanly(tmp_path, capsys, ["model=bert4rec", override, "split=leave_one_out", "dataset=ml-100k"],
                         message)


def test_a_time_ordered_protocol_on_data_without_timestamps_fails(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rows = [f"{u},{i}" for u in range(20) for i in range(u % 5, u % 5 + 6)]
    (data / "plays.csv").write_text("user,item\n" + "\n".join(rows) + "\n")
    assert_fails_cleanly(tmp_path, capsys, ["dataset=custom", f"dataset.path={data}",
                                            "dataset.source.file=plays.csv", "model=markov",
                                            "split=leave_one_out"],
                         "split=leave_one_out orders interactions by time, but this dataset has no timestamps")


def test_exclude_history_false_lets_a_known_item_be_recommended_again():
    # One user who knows item 0 and comes back to it (the target); the model ranks it first.
    users = torch.tensor([0])
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    history = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    metrics = {}
    for exclude in (True, False):
        accumulator = Evaluator([1, 2], batch_size=8, exclude_history=exclude).accumulator(4, "test")
        accumulator.add(users, scores, history, target)
        metrics[exclude] = accumulator.gather().summary("test")
    assert metrics[True]["test/hitrate@2"] == 0.0  # item 0 masked: never recommended
    assert metrics[False]["test/hitrate@1"] == 1.0 and metrics[False]["test/mrr@1"] == 1.0
