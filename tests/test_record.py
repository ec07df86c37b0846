"""The run record: one layout for results.json and the W&B summary, read back leniently."""

import json
import math

import pytest

from recbench.record import SCHEMA_VERSION, RecordError, RunRecord, Timing


def a_record() -> RunRecord:
    return RunRecord(model="ease", dataset="ml-100k", split="random", seed=3,
                     metrics={"valid/ndcg@10": 0.31, "test/ndcg@10": 0.29, "test/recall@10": 0.4},
                     timing=Timing(1.5, 0.25, None, None, None), model_target="plugins.ease.EASE", n_params=0,
                     fingerprint="abc", stats={"n_users": 943}, split_config={"ratios": [0.8, 0.1, 0.1]},
                     split_counts={"train": 8, "valid": 1, "test": 1}, config={"seed": 3},
                     artifacts={"per_user_test": "per_user_test.parquet"})


def test_results_json_round_trip_keeps_every_field(tmp_path):
    record = a_record()
    path = record.save(tmp_path)
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    assert raw["model"] == {"name": "ease", "target": "plugins.ease.EASE", "n_params": 0}
    assert raw["timing"] == {"train_seconds": 1.5, "eval_seconds": 0.25, "epochs": None, "best_epoch": None,
                             "refit_epochs": None}
    assert RunRecord.load(tmp_path) == record


def test_an_older_file_is_read_as_far_as_it_goes_with_warnings():
    warnings = []
    old = {"model": "pop", "dataset": "ml-100k", "split": "random", "metrics": {"test/ndcg@10": "bad", "valid/x": 1},
           "timing": {"train_seconds": 2}}
    record = RunRecord.from_json(old, warn=warnings.append)
    assert (record.model, record.dataset, record.split, record.seed) == ("pop", "ml-100k", "random", None)
    assert math.isnan(record.metrics["test/ndcg@10"]) and record.metrics["valid/x"] == 1.0
    assert record.timing.train_seconds == 2.0 and math.isnan(record.timing.eval_seconds)
    assert any("no schema_version" in w for w in warnings) and any("no resolved config" in w for w in warnings)


@pytest.mark.parametrize("payload, reason", [([1, 2], "expected a JSON object"), ({"metrics": {}}, "no metrics")])
def test_what_is_not_a_record_is_refused(payload, reason):
    with pytest.raises(RecordError, match=reason):
        RunRecord.from_json(payload)


def test_a_truncated_file_is_refused(tmp_path):
    (tmp_path / "results.json").write_text('{"metrics": {"test/ndcg@10": 0.')
    with pytest.raises(RecordError, match="corrupt or truncated"):
        RunRecord.load(tmp_path / "results.json")


def test_wandb_summary_round_trip_keeps_what_the_leaderboard_needs():
    record = a_record()
    summary = {**record.summary(), "_runtime": 3, "trainer/global_step": 4}
    assert summary["train_seconds"] == 1.5 and "epochs" not in summary   # None timings are left out
    back = RunRecord.from_summary(record.config, summary)
    assert (back.model, back.dataset, back.split, back.seed, back.n_params) == ("ease", "ml-100k", "random", 3, 0)
    assert back.metrics == record.metrics and back.timing == record.timing
    with pytest.raises(RecordError, match="no valid/ or test/ metrics"):
        RunRecord.from_summary({}, {"model": "pop"})


def test_objective_values_name_metrics_and_timings():
    values = a_record().objective_values()
    assert values["valid/ndcg@10"] == 0.31 and values["timing/train_seconds"] == 1.5
    assert a_record().stage_metrics("test") == {"ndcg@10": 0.29, "recall@10": 0.4}
