"""Poisson-sampled training batches, built in whole tensors, for DP-SGD.

The privacy analysis of DP-SGD (amplification by subsampling) assumes that every training sample
joins each step's batch independently with probability ``q = batch_size / n_samples``; batches of
a shuffled epoch do not satisfy it. Each step draws ``n_samples`` uniforms from a generator seeded
by ``(seed, epoch, step)``, so batches are reproducible and independent of the loader's workers.
An epoch is ``ceil(n_samples / batch_size)`` steps (about ``1 / q``), as in Opacus's DPDataLoader;
batch sizes vary around ``batch_size`` and may, rarely, be empty.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recbench.evaluation.evaluator import dense_rows


def step_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, epoch, step)`` (int hashes are not salted)."""
    return torch.Generator().manual_seed(hash(("poisson", seed, epoch, step)) & 0x7FFF_FFFF_FFFF_FFFF)


def poisson_sample(n_samples: int, sample_rate: float, generator: torch.Generator) -> Tensor:
    """Indices ``[b]`` of the samples that join this step, each independently with ``sample_rate``."""
    return torch.nonzero(torch.rand(n_samples, generator=generator) < sample_rate).squeeze(1)


class _PoissonBatches(Dataset):
    """Indexed by ``(epoch, step)`` through :class:`recbench.training.batches.EpochSampler`."""

    def __init__(self, n_samples: int, batch_size: int, seed: int):
        self.n_samples, self.seed = n_samples, seed
        self.sample_rate = min(1.0, batch_size / n_samples)
        self.n_batches = math.ceil(n_samples / batch_size)

    def __len__(self) -> int:
        return self.n_batches

    def _draw(self, index: tuple[int, int]) -> tuple[Tensor, torch.Generator]:
        epoch, step = index
        generator = step_generator(self.seed, epoch, step)
        return poisson_sample(self.n_samples, self.sample_rate, generator), generator


class PoissonInteractionBatches(_PoissonBatches):
    """One sample per training interaction: ``{"users": [b], "items": [b], "negatives": [b, n_neg]}``.

    Negatives are uniform over all items, *not* redrawn when they hit one of the user's training
    items (as :class:`~recbench.training.batches.InteractionBatches` does): a rejection would make
    one interaction's sample depend on the user's other interactions, and the interaction-level
    guarantee would no longer hold as stated.
    """

    def __init__(self, train: sp.csr_matrix, batch_size: int, num_negatives: int, seed: int):
        coo = train.tocoo()
        super().__init__(coo.nnz, batch_size, seed)
        self.users = torch.from_numpy(coo.row.astype(np.int64))
        self.items = torch.from_numpy(coo.col.astype(np.int64))
        self.n_items, self.num_negatives = train.shape[1], num_negatives

    def __getitem__(self, index: tuple[int, int]) -> dict[str, Tensor]:
        chosen, generator = self._draw(index)
        return {
            "users": self.users[chosen],
            "items": self.items[chosen],
            "negatives": torch.randint(self.n_items, (len(chosen), self.num_negatives), generator=generator),
        }


class PoissonUserBatches(_PoissonBatches):
    """One sample per user with training data: ``{"users": [b], "history": [b, n_items]}``."""

    def __init__(self, train: sp.csr_matrix, batch_size: int, seed: int):
        self.train = train
        self.user_ids = np.flatnonzero(np.diff(train.indptr) > 0)
        super().__init__(len(self.user_ids), batch_size, seed)

    def __getitem__(self, index: tuple[int, int]) -> dict[str, Tensor]:
        chosen, _ = self._draw(index)
        users = self.user_ids[chosen.numpy()]
        return {"users": torch.from_numpy(users), "history": dense_rows(self.train, users)}
