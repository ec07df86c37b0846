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


def _generator(seed: int, epoch: int, step: int = -1, device: torch.device | None = None) -> torch.Generator:
    """The random stream of one (seed, epoch, step), on ``device`` (CPU by default)."""
    return torch.Generator(device=device or "cpu").manual_seed(hash((seed, epoch, step)) & 0x7FFF_FFFF_FFFF_FFFF)


class _EpochOrder:
    """The shuffled order of ``n`` rows for an epoch, computed once per epoch (a cache)."""

    def __init__(self, n: int, seed: int, device: torch.device | None = None):
        self.n, self.seed, self.device = n, seed, device
        self.epoch, self.order = None, None

    def __call__(self, epoch: int) -> Tensor:
        if epoch != self.epoch:
            generator = _generator(self.seed, epoch, device=self.device)
            self.epoch, self.order = epoch, torch.randperm(self.n, generator=generator, device=generator.device)
        return self.order


class UnseenItemSampler:
    """Uniform items a user never interacted with in training (vectorised rejection sampling).

    Args:
        train: binary training matrix ``[n_users, n_items]``.
        device: where the draws are made (CPU by default).
        fixed_rounds: redraw in a fixed number of rounds that never wait for the device (see
            :meth:`__call__`); the default: off the CPU.
    """

    def __init__(self, train: sp.csr_matrix, device: torch.device | None = None, fixed_rounds: bool | None = None):
        coo = train.tocoo()
        self.n_items = train.shape[1]
        # Sorted ``user * n_items + item`` keys; numpy's searchsorted is much faster than torch's on CPU.
        self.known = np.sort(coo.row.astype(np.int64) * self.n_items + coo.col)  # [nnz]
        device = torch.device(device or "cpu")
        self.fixed_rounds = device.type != "cpu" if fixed_rounds is None else fixed_rounds
        if self.fixed_rounds:
            self.known_keys = torch.from_numpy(self.known).to(device)

    def _is_known(self, keys: Tensor) -> Tensor:
        if self.fixed_rounds:
            known = self.known_keys
            position = torch.searchsorted(known, keys).clamp(max=len(known) - 1)
            return known[position] == keys
        keys = keys.numpy()
        position = np.minimum(np.searchsorted(self.known, keys), len(self.known) - 1)
        return torch.from_numpy(self.known[position] == keys)

    def __call__(self, users: Tensor, generator: torch.Generator) -> Tensor:
        """One unseen item per entry of ``users`` (any shape); the result has the same shape.

        On the CPU only the clashing draws are redrawn, so each round is smaller than the last.
        With ``fixed_rounds`` (on a device) every round redraws the clashes in place, for a fixed
        number of rounds: asking whether any clash is left would make the host wait for the device
        at every round. Either way a draw still clashing after the last round is kept (a user who
        had all but a few items), which takes about ``density ** 20`` odds.
        """
        items = torch.randint(self.n_items, users.shape, generator=generator, device=users.device).view(-1)
        user_keys = users.reshape(-1) * self.n_items
        if self.fixed_rounds:
            for _ in range(_MAX_RESAMPLING_ROUNDS):
                redraw = torch.randint(self.n_items, items.shape, generator=generator, device=users.device)
                items = torch.where(self._is_known(user_keys + items), redraw, items)
            return items.view(users.shape)
        pending = torch.arange(len(items))
        for _ in range(_MAX_RESAMPLING_ROUNDS):
            clash = self._is_known(user_keys[pending] + items[pending])
            pending = pending[clash]
            if len(pending) == 0:
                break
            items[pending] = torch.randint(self.n_items, (len(pending),), generator=generator)
        return items.view(users.shape)


class InteractionBatches(Dataset):
    """Shuffled training interactions with uniformly sampled negatives.

    Batch ``{"users": [B], "items": [B], "negatives": [B, num_negatives]}``; a negative is never
    an item the user interacted with in training (rejection sampling, vectorised).

    With a ``device`` (the model's GPU) the interactions stay there and every batch is shuffled,
    sliced and sampled there, so a step copies nothing from the host and never waits for the
    device. The draws then come from the device's generator: the same for a (seed, epoch, step) on
    that device, but not the CPU's numbers.
    """

    def __init__(self, train: sp.csr_matrix, batch_size: int, num_negatives: int, seed: int,
                 device: torch.device | None = None):
        coo = train.tocoo()
        self.device = torch.device(device or "cpu")
        self.users = torch.from_numpy(coo.row.astype(np.int64)).to(self.device)
        self.items = torch.from_numpy(coo.col.astype(np.int64)).to(self.device)
        self.sampler = UnseenItemSampler(train, self.device)
        self.batch_size, self.num_negatives, self.seed = batch_size, num_negatives, seed
        self.n_batches = math.ceil(len(self.users) / batch_size)
        self.order = _EpochOrder(len(self.users), seed, self.device)

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        chosen = self.order(epoch)[step * self.batch_size:(step + 1) * self.batch_size]
        users = self.users[chosen]
        return {
            "users": users,
            "items": self.items[chosen],
            "negatives": self.sampler(users[:, None].expand(-1, self.num_negatives),
                                      _generator(self.seed, epoch, step, self.device)),  # [B, num_negatives]
        }


class DeviceRows:
    """A CSR matrix kept on a device, whose rows come out dense without a host round trip.

    Each asked row is read through ``max_row_length`` padded slots (the longest row, known when
    this is built), so no step needs the batch's number of nonzeros on the host: that would make
    the host wait for the device at every batch.
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device):
        self.n_cols = matrix.shape[1]
        self.indptr = torch.from_numpy(matrix.indptr.astype(np.int64)).to(device)
        # One spare slot at the end for padding: it points at a column past the last and weighs 0.
        self.indices = torch.from_numpy(np.append(matrix.indices.astype(np.int64), self.n_cols)).to(device)
        self.values = torch.from_numpy(np.append(matrix.data, 0.0).astype(np.float32)).to(device)
        self.slots = torch.arange(int(np.diff(matrix.indptr).max(initial=0)), device=device)  # [max_row_length]

    def __call__(self, rows: Tensor) -> Tensor:
        """Dense float32 ``[len(rows), n_cols]`` of the rows (int64, on this device)."""
        start, end = self.indptr[rows, None], self.indptr[rows + 1, None]  # [B, 1] each
        position = start + self.slots  # [B, max_row_length]
        position = torch.where(position < end, position, len(self.indices) - 1)  # past the row: the spare slot
        dense = torch.zeros(len(rows), self.n_cols + 1, device=rows.device)
        dense.scatter_(1, self.indices[position], self.values[position])
        return dense[:, :self.n_cols]


class UserBatches(Dataset):
    """Shuffled users with their whole training rows: ``{"users": [B], "history": [B, n_items]}``.

    With a ``device`` other than the CPU (the model's GPU) the training matrix stays there and
    every batch is shuffled and made dense there (:class:`DeviceRows`), instead of copying a dense
    ``[B, n_items]`` block from the host each step. The shuffle then comes from the device's
    generator: the same for a (seed, epoch) on that device, but not the CPU's order.
    """

    def __init__(self, train: sp.csr_matrix, batch_size: int, seed: int, device: torch.device | None = None):
        self.train = train
        self.user_ids = np.flatnonzero(np.diff(train.indptr) > 0)
        self.batch_size, self.seed = batch_size, seed
        self.n_batches = math.ceil(len(self.user_ids) / batch_size)
        device = torch.device(device or "cpu")
        self.rows = DeviceRows(train, device) if device.type != "cpu" else None
        if self.rows is not None:
            self.user_ids = torch.from_numpy(self.user_ids).to(device)
        self.order = _EpochOrder(len(self.user_ids), seed, device)

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        chosen = self.order(epoch)[step * self.batch_size:(step + 1) * self.batch_size]
        if self.rows is not None:
            users = self.user_ids[chosen]
            return {"users": users, "history": self.rows(users)}
        users = self.user_ids[chosen.numpy()]
        return {"users": torch.from_numpy(users), "history": dense_rows(self.train, users)}
