"""Training batches of sequence models, built in whole tensors and indexed like the other batches.

Rows are the windows of :meth:`~recbench.data.sequences.Sequences.windows` (left-aligned, PAD on
the right). As in :mod:`recbench.training.batches`, batch ``(epoch, step)`` depends only on
(seed, epoch, step), and :class:`~recbench.training.batches.EpochSampler` shards the steps over
DDP processes.
"""

from __future__ import annotations

import math

import scipy.sparse as sp
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recbench.data.interactions import SplitData
from recbench.data.sequences import PAD, Sequences, build_sequences, trim_padding
from recbench.training.batches import (
    UnseenItemSampler,
    _EpochOrder,
    _generator,
    epoch_step,
)

SEQUENCE_BATCH_KINDS = ("next_item", "masked_item")


class _WindowBatches(Dataset):
    """Shuffled windows; subclasses add what their batch kind needs."""

    def __init__(self, users: Tensor, inputs: Tensor, batch_size: int, seed: int):
        self.users, self.inputs = users, inputs  # [R], [R, max_len]
        self.batch_size, self.seed = batch_size, seed
        self.n_batches = max(1, math.ceil(len(users) / batch_size))
        self.order = _EpochOrder(len(users), seed)

    def __len__(self) -> int:
        return self.n_batches

    def _rows(self, epoch: int, step: int) -> Tensor:
        return self.order(epoch)[step * self.batch_size:(step + 1) * self.batch_size]


class NextItemBatches(_WindowBatches):
    """Every prefix predicts its next item, all at once (how SASRec and GRU4Rec train).

    Batch ``{"users": [B], "sequence": [B, L], "target": [B, L]}``: ``target[b, t]`` is the item
    after ``sequence[b, t]`` (PAD where there is none); ``L <= max_len`` is the batch's longest
    window (trailing pad columns are cut). With ``num_negatives > 0`` it also holds
    ``"negatives": [B, L, num_negatives]``, uniform items the user never had in training.

    Args:
        sequences: the training sequences.
        train: the training matrix ``[n_users, n_items]`` (for the negatives).
        max_len: window length ``L``.
        batch_size: windows per batch.
        seed: with the epoch and step, fixes the shuffle and the negatives.
        num_negatives: sampled negatives per position (0: none).
    """

    def __init__(self, sequences: Sequences, train: sp.csr_matrix, max_len: int, batch_size: int, seed: int,
                 num_negatives: int = 0):
        users, inputs, targets = sequences.windows(max_len, shifted=True)
        super().__init__(users, inputs, batch_size, seed)
        self.targets, self.num_negatives = targets, num_negatives
        self.sampler = UnseenItemSampler(train) if num_negatives > 0 else None

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        rows = self._rows(epoch, step)
        width = trim_padding(self.inputs[rows])  # pad columns only cost time
        batch = {"users": self.users[rows], "sequence": self.inputs[rows, :width],
                 "target": self.targets[rows, :width]}
        if self.sampler is not None:
            shape = (*batch["sequence"].shape, self.num_negatives)
            batch["negatives"] = self.sampler(batch["users"][:, None, None].expand(shape),
                                              _generator(self.seed, epoch, step))  # [B, L, n_neg]
        return batch


class MaskedItemBatches(_WindowBatches):
    """Masked-item batches (BERT4Rec's cloze task).

    Batch ``{"users": [B], "sequence": [B, L], "masked": bool [B, L]}``: each real position is
    masked with probability ``mask_prob``, and a row with no masked position gets its latest item
    masked (the position scoring predicts). The model replaces masked items with its own mask
    token and predicts ``sequence`` there.
    """

    def __init__(self, sequences: Sequences, max_len: int, batch_size: int, seed: int, mask_prob: float):
        users, inputs, _ = sequences.windows(max_len, shifted=False)
        super().__init__(users, inputs, batch_size, seed)
        self.mask_prob = mask_prob

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        rows = self._rows(epoch, step)
        sequence = self.inputs[rows]
        sequence = sequence[:, :trim_padding(sequence)]  # [B, L'], pad columns only cost time
        real = sequence != PAD
        draws = torch.rand(sequence.shape, generator=_generator(self.seed, epoch, step))
        masked = real & (draws < self.mask_prob)
        none = ~masked.any(dim=1)
        latest = real.sum(dim=1) - 1  # every window holds at least one item
        masked[none.nonzero().view(-1), latest[none]] = True
        return {"users": self.users[rows], "sequence": sequence, "masked": masked}


def sequence_batches(split: SplitData, batch_kind: str, max_len: int, batch_size: int, seed: int,
                     num_negatives: int = 0, mask_prob: float = 0.0) -> Dataset:
    """The training batches of a sequence model, from the split's training items in time order."""
    sequences = build_sequences(split, "train")
    if batch_kind == "next_item":
        return NextItemBatches(sequences, split.train, max_len, batch_size, seed, num_negatives)
    return MaskedItemBatches(sequences, max_len, batch_size, seed, mask_prob)
