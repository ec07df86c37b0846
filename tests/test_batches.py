"""Training batches: negatives are unseen items, shards are disjoint, epochs reshuffle."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recbench.evaluation.evaluator import EvaluationBatches, dense_rows
from recbench.training.batches import (
    DeviceRows,
    EpochSampler,
    InteractionBatches,
    UnseenItemSampler,
    UserBatches,
    _generator,
)


def dense_train(seed=0, n_users=40, n_items=30, density=0.4):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float32))


def test_negatives_are_never_training_items_and_cover_the_rest():
    train = dense_train()
    batches = InteractionBatches(train, batch_size=64, num_negatives=8, seed=1)
    dense = train.toarray()
    seen_negatives = np.zeros_like(dense)
    positives = []
    for step in range(len(batches)):
        batch = batches[(0, step)]
        users, negatives = batch["users"].numpy(), batch["negatives"].numpy()
        assert negatives.shape == (len(users), 8)
        assert dense[users[:, None], negatives].sum() == 0  # no negative is a known item
        assert dense[users, batch["items"].numpy()].all()  # every positive is a known item
        seen_negatives[users[:, None], negatives] = 1
        positives.append(np.stack([users, batch["items"].numpy()], 1))
    positives = np.concatenate(positives)
    assert len(positives) == train.nnz and len(np.unique(positives, axis=0)) == train.nnz
    # Over one epoch most unseen (user, item) pairs get drawn at least once: sampling is not stuck.
    assert seen_negatives.sum() > 0.5 * (dense == 0).sum()


def test_fixed_round_sampling_draws_only_unseen_items_and_is_seeded():
    # The sampling used on a GPU (a fixed number of rounds, no check for clashes left) runs here on
    # the CPU: at density 0.4 a draw still clashes after 20 rounds with odds 1e-8.
    train = dense_train()
    dense = train.toarray()
    sampler = UnseenItemSampler(train, fixed_rounds=True)
    users = torch.arange(40).repeat_interleave(50)[:, None].expand(-1, 6)  # [2000, 6]
    negatives = sampler(users, _generator(5, 0, 0))
    assert negatives.shape == users.shape
    assert dense[users.numpy(), negatives.numpy()].sum() == 0
    assert torch.equal(negatives, sampler(users, _generator(5, 0, 0)))
    # every unseen item of a user can be drawn, and uniformly: user 0's draws are spread evenly
    unseen = np.flatnonzero(dense[0] == 0)
    counts = np.bincount(sampler(torch.zeros(30_000, dtype=torch.long), _generator(1, 0, 0)).numpy(),
                         minlength=dense.shape[1])
    assert set(np.flatnonzero(counts)) == set(unseen)
    assert counts[unseen].min() > 0.8 * 30_000 / len(unseen)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_interaction_batches_are_built_on_the_gpu():
    train = dense_train()
    batches = InteractionBatches(train, batch_size=64, num_negatives=8, seed=1, device=torch.device("cuda"))
    batch = batches[(0, 0)]
    assert all(value.device.type == "cuda" for value in batch.values())
    users, negatives = batch["users"].cpu().numpy(), batch["negatives"].cpu().numpy()
    assert train.toarray()[users[:, None], negatives].sum() == 0
    assert torch.equal(batch["negatives"], batches[(0, 0)]["negatives"])


def test_batches_depend_only_on_seed_epoch_and_step():
    train = dense_train()
    a = InteractionBatches(train, 32, 4, seed=3)
    b = InteractionBatches(train, 32, 4, seed=3)
    for key in ("users", "items", "negatives"):
        assert torch.equal(a[(2, 1)][key], b[(2, 1)][key])
    assert not torch.equal(a[(0, 0)]["users"], a[(1, 0)]["users"])  # a new epoch reshuffles


def test_ddp_shards_take_disjoint_steps_in_equal_numbers():
    shards = [list(EpochSampler(7, rank, 3)) for rank in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # equal, so no process waits in all-reduce
    steps = [step for shard in shards for _, step in shard]
    assert set(steps) == set(range(7))  # every batch trained; two wrap around


def test_evaluation_shards_count_each_user_once():
    target = dense_train(seed=1, density=0.1)
    history = dense_train(seed=2)
    users = [torch.cat([batch["users"] for batch in EvaluationBatches(history, target, 5, rank, 3)])
             for rank in range(3)]
    everyone = torch.cat(users).sort().values
    expected = np.flatnonzero(np.diff(target.indptr) > 0)
    assert everyone.tolist() == expected.tolist()


def test_user_batches_hold_whole_training_rows():
    train = dense_train()
    batch = UserBatches(train, batch_size=16, seed=0)[(0, 0)]
    np.testing.assert_array_equal(batch["history"].numpy(), train[batch["users"].numpy()].toarray())


def test_device_rows_equal_the_host_rows_with_weights_empty_and_repeated_rows():
    rng = np.random.default_rng(4)
    train = sp.random(30, 25, density=0.3, format="csr", random_state=5, dtype=np.float32)
    train.data = rng.uniform(0.5, 3.0, train.nnz).astype(np.float32)  # weights, not only ones
    train = sp.csr_matrix(train.toarray() * (np.arange(30) % 7 != 3)[:, None])  # rows 3, 10, 17, 24 empty
    rows = np.array([3, 0, 29, 0, 10, int(np.diff(train.indptr).argmax())])
    got = DeviceRows(train, torch.device("cpu"))(torch.from_numpy(rows))
    np.testing.assert_array_equal(got.numpy(), dense_rows(train, rows).numpy())


def test_device_rows_of_an_empty_matrix_are_zeros():
    train = sp.csr_matrix((4, 6), dtype=np.float32)
    assert DeviceRows(train, torch.device("cpu"))(torch.tensor([0, 3])).abs().sum() == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_user_batches_are_built_on_the_gpu():
    train = dense_train()
    batches = UserBatches(train, batch_size=16, seed=0, device=torch.device("cuda"))
    seen = []
    for step in range(len(batches)):
        batch = batches[(0, step)]
        assert batch["users"].device.type == "cuda" and batch["history"].device.type == "cuda"
        users = batch["users"].cpu().numpy()
        np.testing.assert_array_equal(batch["history"].cpu().numpy(), train[users].toarray())
        seen.extend(users.tolist())
    assert sorted(seen) == np.flatnonzero(np.diff(train.indptr) > 0).tolist()  # each user once an epoch
