"""Split protocols: disjoint parts, the right held-out items, determinism, and the Parquet cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from recbench.data.interactions import Interactions, Role
from recbench.data.split import HeldOutUsers, LeaveOneOut, RandomSplit, TemporalSplit
from recbench.data.split_cache import cached_split
from recbench.data.synthetic import generate_synthetic
from recbench.errors import RecbenchError
from tests.helpers import CONF_DIR


@pytest.fixture(scope="module")
def data() -> Interactions:
    frame, _ = generate_synthetic(n_users=150, n_items=90, mean_interactions=15, seed=3)
    return Interactions.from_frame(frame.drop_duplicates(["user", "item"]))


def parts(split) -> list[set]:
    out = []
    for matrix in (split.train, split.valid, split.test):
        coo = matrix.tocoo()
        out.append(set(zip(coo.row.tolist(), coo.col.tolist())))
    return out


@pytest.mark.parametrize("protocol", [RandomSplit(), LeaveOneOut(), TemporalSplit(), HeldOutUsers(0.2, 0.2)])
def test_no_interaction_in_two_parts_and_none_lost(data, protocol):
    split = protocol(data, seed=1)
    train, valid, test = parts(split)
    assert not (train & valid) and not (train & test) and not (valid & test)
    fold_in = int(np.isin(split.roles, [Role.VALID_FOLD_IN, Role.TEST_FOLD_IN]).sum())
    assert len(train) + len(valid) + len(test) + fold_in == len(data)
    assert (protocol(data, seed=1).roles == split.roles).all()  # same seed, same split
    if not isinstance(protocol, (LeaveOneOut, TemporalSplit)):  # these use the seed only for time ties
        assert (protocol(data, seed=2).roles != split.roles).any()


def test_leave_one_out_holds_each_users_latest(data):
    split = LeaveOneOut(min_user_interactions=3)(data, seed=0)
    frame = pd.DataFrame({"user": data.users, "item": data.items, "t": data.timestamps, "role": split.roles})
    frame = frame.sort_values(["user", "t"])  # synthetic timestamps are distinct within a user
    assert not frame.duplicated(["user", "t"]).any()
    latest = frame.groupby("user").nth(-1)
    second = frame.groupby("user").nth(-2)
    assert (latest["role"] == Role.TEST).all() and (second["role"] == Role.VALID).all()
    assert (split.roles == Role.TEST).sum() == data.n_users == (split.roles == Role.VALID).sum()


def test_temporal_split_cuts_at_quantiles(data):
    split = TemporalSplit([0.7, 0.1, 0.2])(data, seed=0)
    t = data.timestamps
    assert t[split.roles == Role.TRAIN].max() <= t[split.roles == Role.VALID].min()
    assert t[split.roles == Role.VALID].max() <= t[split.roles == Role.TEST].min()
    assert (split.roles == Role.TRAIN).sum() == round(0.7 * len(data))


def test_held_out_users_are_disjoint_and_folded_in(data):
    split = HeldOutUsers(valid_users=30, test_users=0.2, fold_in_ratio=0.8)(data, seed=0)
    by_role = {role: set(data.users[split.roles == role]) for role in range(5)}
    train_users = by_role[Role.TRAIN]
    valid_users = by_role[Role.VALID] | by_role[Role.VALID_FOLD_IN]
    test_users = by_role[Role.TEST] | by_role[Role.TEST_FOLD_IN]
    assert len(valid_users) == 30 and len(test_users) == 30
    assert not (train_users & valid_users) and not (train_users & test_users) and not (valid_users & test_users)
    counts = np.bincount(data.users, minlength=data.n_users)
    targets = np.bincount(data.users[split.roles == Role.TEST], minlength=data.n_users)
    for user in test_users:  # Mult-VAE holds out int(0.2 * n) of each held-out user's items
        assert targets[user] == (int(0.2 * counts[user] + 1e-9) if counts[user] >= 5 else 0)
    # What SplitData hands the evaluator: a test user's history is exactly their fold-in part.
    history, target = split.stage("test")
    user = next(iter(test_users))
    fold_in = set(data.items[(data.users == user) & (split.roles == Role.TEST_FOLD_IN)])
    assert set(history[user].indices) == fold_in and not (set(target[user].indices) & fold_in)
    assert split.train[list(test_users)].nnz == 0


def test_time_protocols_need_timestamps(data):
    untimed = Interactions(data.user_ids, data.item_ids, data.users, data.items)
    with pytest.raises(RecbenchError, match="split=leave_one_out .* no timestamps: use split=random"):
        LeaveOneOut()(untimed, seed=0)


@pytest.mark.parametrize("ratios", [[0.8, 0.1, 0.2], [0.9, 0.1], [1.1, -0.1, 0.0]])
def test_ratios_that_do_not_sum_to_one(ratios):
    with pytest.raises(RecbenchError, match="sum to 1.*e.g. split.ratios"):
        RandomSplit(ratios)
    with pytest.raises(RecbenchError, match="sum to 1"):
        TemporalSplit(ratios)


def test_second_run_reads_the_cache(data, tmp_path):
    cfg = OmegaConf.load(CONF_DIR / "split" / "random.yaml")
    first, path = cached_split(cfg, data, seed=5, cache_dir=str(tmp_path))
    assert path.parent == tmp_path / "splits" and path.suffix == ".parquet"
    assert (pd.read_parquet(path)["role"].to_numpy() == first.roles).all()
    # Plant different roles under the same key: a run that reads the cache returns them.
    planted = np.roll(first.roles, 1)
    pd.DataFrame({"role": planted}).to_parquet(path)
    second, second_path = cached_split(cfg, data, seed=5, cache_dir=str(tmp_path))
    assert second_path == path and (second.roles == planted).all()
    # Another seed or another config is another key.
    _, other_seed = cached_split(cfg, data, seed=6, cache_dir=str(tmp_path))
    cfg.ratios = [0.6, 0.2, 0.2]
    _, other_cfg = cached_split(cfg, data, seed=5, cache_dir=str(tmp_path))
    assert len({path, other_seed, other_cfg}) == 3
