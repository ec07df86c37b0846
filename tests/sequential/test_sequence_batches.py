"""Next-item and masked-item batches: shapes, the shift, negatives, seeding and DDP shards."""

import numpy as np
import torch

from recbench.data.sequences import PAD, Sequences
from recbench.training.batches import EpochSampler
from recbench.training.sequence_batches import (
    MaskedItemBatches,
    Masking,
    NextItemBatches,
)


def random_sequences(seed=0, n_users=30, n_items=200):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, n_users)
    items = rng.integers(0, n_items, lengths.sum())
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return Sequences(items=items, indptr=indptr), n_items


def training_matrix(sequences, n_items):
    import scipy.sparse as sp
    users = np.repeat(np.arange(sequences.n_users), sequences.lengths)
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, sequences.items)),
                           shape=(sequences.n_users, n_items))
    matrix.data[:] = 1
    return matrix


def test_next_item_batches_shift_targets_and_cover_every_transition_once():
    sequences, n_items = random_sequences()
    train = training_matrix(sequences, n_items)
    batches = NextItemBatches(sequences, train, max_len=8, batch_size=7, seed=1, num_negatives=2)
    pairs, dense = [], train.toarray()
    for step in range(len(batches)):
        batch = batches[(0, step)]
        sequence, target, users = batch["sequence"], batch["target"], batch["users"]
        assert sequence.shape == target.shape == (len(users), 8)
        assert batch["negatives"].shape == (len(users), 8, 2)
        real = target != PAD
        assert torch.equal(real, sequence != PAD)  # a target exactly where there is an input
        # within a window, each input's target is the next input
        inner = real[:, 1:]
        assert torch.equal(target[:, :-1][inner], sequence[:, 1:][inner])
        assert dense[users[:, None, None].numpy(), batch["negatives"].numpy()].sum() == 0  # unseen only
        rows, cols = real.nonzero(as_tuple=True)
        pairs += list(zip(users[rows].tolist(), sequence[rows, cols].tolist(), target[rows, cols].tolist()))
    expected = [(u, int(a), int(b)) for u in range(sequences.n_users)
                for a, b in zip(sequences.items[sequences.indptr[u]:sequences.indptr[u + 1] - 1],
                                sequences.items[sequences.indptr[u] + 1:sequences.indptr[u + 1]])]
    assert sorted(pairs) == sorted(expected)  # every (item, next item) pair of every user, once


def test_masked_item_batches_mask_real_positions_only_and_at_least_one_per_row():
    sequences, _ = random_sequences(seed=2)
    batches = MaskedItemBatches(sequences, max_len=10, batch_size=16, seed=3, masking=Masking(0.3))
    masked_share = []
    for step in range(len(batches)):
        batch = batches[(0, step)]
        real = batch["sequence"] != PAD
        assert not (batch["masked"] & ~real).any()
        assert batch["masked"].any(dim=1).all()
        masked_share.append(batch["masked"].sum() / real.sum())
    assert 0.2 < float(torch.stack(masked_share).mean()) < 0.45


def test_mask_last_prob_gives_rows_with_only_their_latest_item_masked():
    sequences, _ = random_sequences(seed=4, n_users=400)
    plain = MaskedItemBatches(sequences, max_len=10, batch_size=50, seed=3, masking=Masking(0.3))
    mixed = MaskedItemBatches(sequences, max_len=10, batch_size=50, seed=3, masking=Masking(0.3, last_prob=0.4))
    last_only_rows, rows = 0, 0
    for step in range(len(mixed)):
        batch = mixed[(0, step)]
        real, masked = batch["sequence"] != PAD, batch["masked"]
        latest = real.sum(dim=1) - 1
        only_latest = torch.zeros_like(masked)
        only_latest[torch.arange(len(latest)), latest] = True
        is_last_only = (masked == only_latest).all(dim=1)
        # a row is either left as plain masking drew it, or holds exactly its latest item
        drawn = plain[(0, step)]["masked"]
        assert torch.equal(batch["sequence"], plain[(0, step)]["sequence"])
        assert ((masked == drawn).all(dim=1) | is_last_only).all()
        last_only_rows += int((is_last_only & ~(drawn == only_latest).all(dim=1)).sum())
        rows += len(masked)
    # rows plain masking would not have left with the latest item alone: about 0.4 of them
    assert 0.3 < last_only_rows / rows < 0.5


def test_sequence_batches_depend_only_on_seed_epoch_and_step():
    sequences, n_items = random_sequences()
    train = training_matrix(sequences, n_items)
    a = NextItemBatches(sequences, train, 8, 7, seed=5, num_negatives=1)
    b = NextItemBatches(sequences, train, 8, 7, seed=5, num_negatives=1)
    for key in ("users", "sequence", "target", "negatives"):
        assert torch.equal(a[(2, 1)][key], b[(2, 1)][key])
    assert not torch.equal(a[(0, 0)]["sequence"], a[(1, 0)]["sequence"])  # a new epoch reshuffles
    m1, m2 = (MaskedItemBatches(sequences, 8, 7, seed=5, masking=Masking(0.5)) for _ in range(2))
    assert torch.equal(m1[(1, 2)]["masked"], m2[(1, 2)]["masked"])


def test_sequence_batches_shard_over_ddp_processes_like_the_others():
    sequences, n_items = random_sequences()
    batches = NextItemBatches(sequences, training_matrix(sequences, n_items), 8, 7, seed=5)
    shards = [[step for _, step in EpochSampler(len(batches), rank, 2)] for rank in range(2)]
    assert len(shards[0]) == len(shards[1])
    assert set(shards[0]) | set(shards[1]) == set(range(len(batches)))
    assert not set(shards[0][:len(batches) // 2]) & set(shards[1][:len(batches) // 2])
