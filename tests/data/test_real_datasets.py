"""The catalog reads the real datasets in $RECBENCH_DATA_DIR with their published statistics."""

from __future__ import annotations

import os

import numpy as np
import pytest

from recbench.data.catalog import catalog_entry
from recbench.data.loading import load_dataset

pytestmark = pytest.mark.skipif(not os.environ.get("RECBENCH_DATA_DIR"),
                                reason="RECBENCH_DATA_DIR is not set (CI sets it to the shared datasets folder)")

HIN_AMAZON = ["name=hin-amazon", "source.file=user_item.dat", "source.sep=\"\\t\"", "source.header=false",
              "source.columns=[user,item,rating,timestamp]"]


@pytest.mark.parametrize(("name", "overrides", "interactions", "users", "items"), [
    ("ml-100k", [], 100_000, 943, 1_682),
    ("ml-latest-small", [], 100_836, 610, 9_724),  # 9,742 movies, 9,724 of them rated
    ("lastfm-2k", [], 92_834, 1_892, 17_632),
    ("amazon-musical-instruments", [], 10_261, 1_429, 900),
    ("custom", HIN_AMAZON, 195_791, 6_170, 2_753),
])
def test_published_statistics(name, overrides, interactions, users, items, isolated_cache):
    data = load_dataset(catalog_entry(name, overrides), cache_dir=str(isolated_cache))
    assert (len(data), data.n_users, data.n_items) == (interactions, users, items)
    assert not list(isolated_cache.glob("*")), "a local copy must be read in place, not downloaded"


def test_ml100k_values_and_item_info(isolated_cache):
    data = load_dataset(catalog_entry("ml-100k"), cache_dir=str(isolated_cache))
    assert data.item_info.loc[0, "title"] == "Toy Story (1995)"
    assert sorted(np.unique(data.ratings)) == [1, 2, 3, 4, 5]
    assert (data.timestamps.min(), data.timestamps.max()) == (874724710, 893286638)


def test_amazon_is_a_true_5_core(isolated_cache):
    entry = catalog_entry("amazon-musical-instruments", ["preprocess.min_user_interactions=5",
                                                         "preprocess.min_item_interactions=5"])
    data = load_dataset(entry, cache_dir=str(isolated_cache))
    assert len(data) == 10_261  # the 5-core filter removes nothing from a 5-core
    assert data.user_ids[0].startswith("A") and np.bincount(data.users).min() >= 5


def test_implicit_threshold_on_ml100k(isolated_cache):
    data = load_dataset(catalog_entry("ml-100k", ["preprocess.min_rating=4"]), cache_dir=str(isolated_cache))
    assert len(data) == 55_375  # ratings 4 and 5 in u.data (21,201 fives + 34,174 fours)
