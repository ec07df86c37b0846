"""Training batches built in whole tensors: no per-interaction Python anywhere.

Each dataset here yields one whole batch per index, and is indexed by ``(epoch, step)`` through
:class:`EpochSampler`, so the shuffle and the negatives depend only on (seed, epoch, step): the
same under any number of workers, and identical on every DDP process, which each take a disjoint
share of the steps.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from recbench.evaluation.evaluator import dense_rows

_MAX_RESAMPLING_ROUNDS = 20


class EpochSampler(Sampler):
    """Yields ``(epoch, step)`` for this process's steps; Lightning calls ``set_epoch``.

    Under DDP every process gets the same number of steps (steps wrap around), because a process
    that stops early would leave the others waiting in the gradient all-reduce.
    """

    def __init__(self, n_batches: int, rank: int = 0, world_size: int = 1):
        self.n_batches, self.rank, self.world_size = n_batches, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.world_size)

    def __iter__(self):
        for i in range(len(self)):
            yield self.epoch, (self.rank + i * self.world_size) % self.n_batches


def epoch_step(index: tuple[int, int] | int) -> tuple[int, int]:
    """``(epoch, step)`` from an :class:`EpochSampler` index, or from a plain step index.

    Lightning's ``overfit_batches`` replaces the sampler with a sequential one yielding plain
    indices: they are taken as steps of epoch 0, so the same batches return every epoch.
    """
    return index if isinstance(index, tuple) else (0, int(index))


def _generator(seed: int, epoch: int, step: int = -1) -> torch.Generator:
    return torch.Generator().manual_seed(hash((seed, epoch, step)) & 0x7FFF_FFFF_FFFF_FFFF)


class _EpochOrder:
    """The shuffled order of ``n`` rows for an epoch, computed once per epoch (a cache)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self.epoch, self.order = None, None

    def __call__(self, epoch: int) -> Tensor:
        if epoch != self.epoch:
            self.epoch, self.order = epoch, torch.randperm(self.n, generator=_generator(self.seed, epoch))
        return self.order


class InteractionBatches(Dataset):
    """Shuffled training interactions with uniformly sampled negatives.

    Batch ``{"users": [B], "items": [B], "negatives": [B, num_negatives]}``; a negative is never
    an item the user interacted with in training (rejection sampling, vectorised).
    """

    def __init__(self, train: sp.csr_matrix, batch_size: int, num_negatives: int, seed: int):
        coo = train.tocoo()
        self.users = torch.from_numpy(coo.row.astype(np.int64))
        self.items = torch.from_numpy(coo.col.astype(np.int64))
        self.n_items = train.shape[1]
        # Sorted ``user * n_items + item`` keys; numpy's searchsorted is much faster than torch's on CPU.
        self.known = np.sort((self.users * self.n_items + self.items).numpy())  # [nnz]
        self.batch_size, self.num_negatives, self.seed = batch_size, num_negatives, seed
        self.n_batches = math.ceil(len(self.users) / batch_size)
        self.order = _EpochOrder(len(self.users), seed)

    def __len__(self) -> int:
        return self.n_batches

    def _is_known(self, keys: Tensor) -> Tensor:
        """Whether each ``user * n_items + item`` key is a training interaction."""
        keys = keys.numpy()
        position = np.minimum(np.searchsorted(self.known, keys), len(self.known) - 1)
        return torch.from_numpy(self.known[position] == keys)

    def sample_negatives(self, users: Tensor, generator: torch.Generator) -> Tensor:
        """Uniform items not in each user's training row, ``[B, num_negatives]``.

        Only the clashing draws are redrawn and re-checked, so each round is smaller than the last.
        """
        shape = (len(users), self.num_negatives)
        negatives = torch.randint(self.n_items, shape, generator=generator).view(-1)
        user_keys = (users * self.n_items).repeat_interleave(self.num_negatives)  # [B * n_neg]
        pending = torch.arange(len(negatives))
        for _ in range(_MAX_RESAMPLING_ROUNDS):
            clash = self._is_known(user_keys[pending] + negatives[pending])
            pending = pending[clash]
            if len(pending) == 0:
                break
            negatives[pending] = torch.randint(self.n_items, (len(pending),), generator=generator)
        return negatives.view(shape)

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        chosen = self.order(epoch)[step * self.batch_size:(step + 1) * self.batch_size]
        users = self.users[chosen]
        return {
            "users": users,
            "items": self.items[chosen],
            "negatives": self.sample_negatives(users, _generator(self.seed, epoch, step)),
        }


class UserBatches(Dataset):
    """Shuffled users with their whole training rows: ``{"users": [B], "history": [B, n_items]}``."""

    def __init__(self, train: sp.csr_matrix, batch_size: int, seed: int):
        self.train = train
        self.user_ids = np.flatnonzero(np.diff(train.indptr) > 0)
        self.batch_size, self.seed = batch_size, seed
        self.n_batches = math.ceil(len(self.user_ids) / batch_size)
        self.order = _EpochOrder(len(self.user_ids), seed)

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        order = self.order(epoch).numpy()
        users = self.user_ids[order[step * self.batch_size:(step + 1) * self.batch_size]]
        return {"users": torch.from_numpy(users), "history": dense_rows(self.train, users)}
