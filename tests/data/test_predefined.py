"""split=predefined: a split exported and fed back gives the same metrics; bad files are refused."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hydra.errors import MissingConfigException

from recbench.data.catalog import catalog_entry
from recbench.data.interactions import SplitData
from recbench.data.loading import load_dataset
from recbench.data.predefined import PredefinedSplit, export_split
from recbench.errors import RecbenchError
from recbench.experiment import train
from tests.helpers import compose_config


def test_export_and_feed_back_gives_the_same_metrics(tmp_path, caplog):
    cache = f"paths.cache_dir={tmp_path}/cache"
    first = train(compose_config(["model=pop", cache], tmp_path / "first"))
    cache_file = first.split_cache_file
    assert cache_file and cache_file.startswith(str(tmp_path / "cache" / "splits"))
    assert first.stats["n_interactions"] == sum(first.split_counts.values())

    with caplog.at_level(logging.INFO, logger="recbench.data.split_cache"):
        again = train(compose_config(["model=pop", cache], tmp_path / "again"))
    assert again.split_cache_file == cache_file and "split read from the cache" in caplog.text

    cfg = compose_config(["model=pop"], tmp_path / "x")
    data = load_dataset(cfg.dataset)
    split = SplitData(data, pd.read_parquet(cache_file)["role"].to_numpy(np.int8))
    files = export_split(split, tmp_path / "exported")
    fed_back = train(compose_config(["model=pop", "split=predefined", cache, f"split.train={files['train']}",
                                     f"split.valid={files['valid']}", f"split.test={files['test']}"],
                                    tmp_path / "fed_back"))
    assert fed_back.metrics == first.metrics
    assert fed_back.split_counts == first.split_counts and fed_back.split_cache_file is None


@pytest.fixture
def tiny(tmp_path):
    frame = pd.DataFrame({"user": [1, 1, 1, 2, 2, 3, 3], "item": ["a", "b", "c", "a", "c", "b", "c"]})
    file = tmp_path / "all.csv"
    frame.to_csv(file, index=False)
    entry = catalog_entry("custom", [f"source.file={file}"])
    return load_dataset(entry, cache_dir=str(tmp_path / "cache"))


def write(tmp_path, name, rows):
    pd.DataFrame(rows, columns=["user", "item"]).to_csv(tmp_path / name, index=False)
    return name


def test_overlap_is_refused(tiny, tmp_path):
    train_file = write(tmp_path, "train.csv", [(1, "a"), (1, "b"), (2, "a"), (3, "b")])
    test_file = write(tmp_path, "test.csv", [(1, "b"), (2, "c")])
    with pytest.raises(RecbenchError, match=r"more than one part .*\['test.csv', 'train.csv'\]"):
        PredefinedSplit(train_file, test_file, folder=str(tmp_path))(tiny, seed=0)


def test_ids_unknown_to_training_or_to_the_dataset_are_refused(tiny, tmp_path):
    train_file = write(tmp_path, "train.csv", [(1, "a"), (1, "b"), (2, "a"), (3, "b")])
    cold_item = write(tmp_path, "cold.csv", [(1, "c")])
    with pytest.raises(RecbenchError, match="item that never occurs in the training file train.csv"):
        PredefinedSplit(train_file, cold_item, folder=str(tmp_path))(tiny, seed=0)
    stranger = write(tmp_path, "stranger.csv", [(1, "c"), (9, "z")])
    with pytest.raises(RecbenchError, match=r"stranger.csv, row 2: user 9 or item 'z' is not in dataset"):
        PredefinedSplit(train_file, stranger, folder=str(tmp_path))(tiny, seed=0)


def test_unknown_split_name_lists_the_options(tmp_path):
    with pytest.raises(MissingConfigException) as error:
        compose_config(["split=nope"], tmp_path)
    message = str(error.value)
    assert "split/nope" in message and "leave_one_out" in message and "predefined" in message
