"""The default split: disjoint parts, right proportions, deterministic, small users kept in train."""

import numpy as np
import pandas as pd
import pytest

from recbench.data.interactions import Interactions, Role
from recbench.data.split import RandomSplit
from recbench.data.synthetic import generate_synthetic
from recbench.errors import RecbenchError


@pytest.fixture(scope="module")
def data():
    frame, items = generate_synthetic(n_users=200, n_items=100, mean_interactions=20, seed=3)
    return Interactions.from_frame(frame, items)


def test_parts_are_disjoint_and_cover_everything(data):
    split = RandomSplit()(data, seed=1)
    train, valid, test = split.train, split.valid, split.test
    assert train.nnz + valid.nnz + test.nnz == len(data)
    assert train.multiply(valid).nnz == 0 and train.multiply(test).nnz == 0 and valid.multiply(test).nnz == 0


def test_each_user_is_split_80_10_10(data):
    split = RandomSplit()(data, seed=1)
    per_user = np.diff(data.matrix().indptr)
    n_test = np.diff(split.test.indptr)
    n_valid = np.diff(split.valid.indptr)
    np.testing.assert_array_equal(n_test, np.floor(per_user * 0.1 + 0.5))
    np.testing.assert_array_equal(n_valid, np.floor(per_user * 0.1 + 0.5))


def test_same_seed_same_split_other_seed_other_split(data):
    first, again, other = (RandomSplit()(data, seed=s).roles for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_users_with_few_interactions_stay_in_train():
    frame = pd.DataFrame({"user": ["a", "a", "b", "b", "b", "b", "b", "b", "b", "b", "b", "b"],
                          "item": ["x", "y", *"abcdefghij"]})
    split = RandomSplit(min_user_interactions=3)(Interactions.from_frame(frame), seed=0)
    user_a = split.interactions.users == 0
    assert (split.roles[user_a] == Role.TRAIN).all()
    assert split.counts()["test"] == 1 and split.counts()["valid"] == 1


def test_ratios_must_sum_to_one():
    with pytest.raises(RecbenchError, match="sum to 1"):
        RandomSplit(ratios=(0.8, 0.1, 0.2))


def test_synthetic_data_is_deterministic_and_long_tailed():
    first, _ = generate_synthetic(seed=5)
    again, items = generate_synthetic(seed=5)
    pd.testing.assert_frame_equal(first, again)
    popularity = first["item"].value_counts().to_numpy()
    top_decile = popularity[: len(popularity) // 10].sum() / popularity.sum()
    assert top_decile > 0.3  # a long tail: 10% of items take a third of all interactions
    assert set(items.columns) == {"title", "category"} and items["title"].str.len().min() > 0
    assert not first.duplicated(["user", "item"]).any()
