"""Training batches: negatives are unseen items, shards are disjoint, epochs reshuffle."""

import numpy as np
import scipy.sparse as sp
import torch

from recbench.evaluation.evaluator import EvaluationBatches
from recbench.training.batches import EpochSampler, InteractionBatches, UserBatches


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
