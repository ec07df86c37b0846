"""Cold-start splits: who is cold, which roles their interactions get, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbench.data.cold_start import ColdItems, ColdUsers
from recbench.data.interactions import Interactions, Role
from recbench.errors import RecbenchError


@pytest.fixture(scope="module")
def data() -> Interactions:
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame({"user": rng.integers(0, 150, n), "item": rng.integers(0, 200, n),
                          "timestamp": rng.integers(0, 10**6, n)}).drop_duplicates(["user", "item"])
    return Interactions.from_frame(frame)


def test_cold_items_hold_out_every_interaction_of_a_fifth_of_the_items(data):
    split = ColdItems(cold_items=0.2, valid_share=0.5)(data, seed=1)
    train_items = np.unique(data.items[split.roles == Role.TRAIN])
    valid_items = np.unique(data.items[split.roles == Role.VALID])
    test_items = np.unique(data.items[split.roles == Role.TEST])
    assert len(valid_items) + len(test_items) == round(0.2 * data.n_items)
    assert abs(len(valid_items) - len(test_items)) <= 1
    # an item is in exactly one group: no training interaction of a cold item, no overlap
    assert not set(train_items) & set(valid_items) and not set(train_items) & set(test_items)
    assert not set(valid_items) & set(test_items)
    assert set(np.unique(split.roles)) == {Role.TRAIN, Role.VALID, Role.TEST}
    assert split.candidates == "cold_items"
    np.testing.assert_array_equal(np.flatnonzero(split.candidate_items("test")), test_items)
    np.testing.assert_array_equal(np.flatnonzero(split.candidate_items("valid")), valid_items)
    assert (split.item_train_counts()[test_items] == 0).all()


def test_cold_items_are_drawn_from_the_seed(data):
    first, again = ColdItems()(data, seed=5), ColdItems()(data, seed=5)
    other = ColdItems()(data, seed=6)
    np.testing.assert_array_equal(first.roles, again.roles)
    assert (first.roles != other.roles).any()


def test_refit_keeps_the_test_items_cold(data):
    merged = ColdItems()(data, seed=1).merged_for_refit()
    assert merged.candidates == "cold_items"
    test_items = np.unique(data.items[merged.roles == Role.TEST])
    assert (merged.item_train_counts()[test_items] == 0).all()


def test_cold_users_with_fold_in_give_the_first_k_interactions_by_time(data):
    split = ColdUsers(cold_users=0.2, fold_in=3)(data, seed=2)
    frame = pd.DataFrame({"user": data.users, "t": data.timestamps, "role": split.roles})
    groups = frame.groupby("user")["role"]
    cold = [u for u, roles in groups if not (roles == Role.TRAIN).any()]
    assert len(cold) == round(0.2 * data.n_users)
    for user in cold:
        rows = frame[frame.user == user].sort_values("t")
        fold_in = rows.role.isin([Role.VALID_FOLD_IN, Role.TEST_FOLD_IN]).to_numpy()
        assert fold_in.sum() == min(3, len(rows))
        # the earliest interactions are the fold-in (timestamps are distinct almost surely)
        assert fold_in[: fold_in.sum()].all()
    warm = [u for u, roles in groups if (roles == Role.TRAIN).any()]
    assert (frame[frame.user.isin(warm)].role == Role.TRAIN).all()
    # the candidate set is every item
    assert split.candidate_items("test") is None


def test_cold_users_without_fold_in_have_an_empty_history(data):
    split = ColdUsers(cold_users=0.2, fold_in=0)(data, seed=2)
    history, target = split.stage("test")
    tested = np.flatnonzero(np.diff(target.indptr))
    assert len(tested) == round(0.1 * data.n_users)
    assert history[tested].nnz == 0


@pytest.mark.parametrize("make, message", [
    (lambda: ColdItems(cold_items=1.5), "split.cold_items must be a fraction in (0, 1)"),
    (lambda: ColdUsers(fold_in=-1), "split.fold_in must be a whole number >= 0"),
    (lambda: ColdUsers(cold_users=0), "split.cold_users must be a fraction in (0, 1)"),
])
def test_impossible_settings(make, message):
    with pytest.raises(RecbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()
