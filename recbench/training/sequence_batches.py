"""Training batches of sequence models, built in whole tensors and indexed like the other batches.

Rows are the windows of :meth:`~recbench.data.sequences.Sequences.windows` (left-aligned, PAD on
the right). As in :mod:`recbench.training.batches`, batch ``(epoch, step)`` depends only on
(seed, epoch, step), and :class:`~recbench.training.batches.EpochSampler` shards the steps over
DDP processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import scipy.sparse as sp
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recbench.data.interactions import SplitData
from recbench.data.sequences import (
    PAD,
    Sequences,
    build_sequences,
    gather_windows,
    trim_padding,
)
from recbench.training.batches import (
    UnseenItemSampler,
    _EpochOrder,
    _generator,
    epoch_step,
)

SEQUENCE_BATCH_KINDS = ("next_item", "masked_item")


@dataclass(frozen=True)
class Masking:
    """How :class:`MaskedItemBatches` mask: a model's ``mask_prob``, ``mask_last_prob`` and ``window_stride``.

    Attributes:
        prob: probability that an item is masked.
        last_prob: probability that a window has only its latest item masked instead.
        stride: items between the ends of a user's windows (None: ``max_len``, no overlap).
    """

    prob: float = 0.0
    last_prob: float = 0.0
    stride: int | None = None

    @classmethod
    def of(cls, model) -> Masking:
        return cls(getattr(model, "mask_prob", 0.0), getattr(model, "mask_last_prob", 0.0),
                   getattr(model, "window_stride", None))


class _WindowBatches(Dataset):
    """Shuffled window rows of ``users`` ``[R]``; subclasses hold the windows and what their batch kind needs."""

    def __init__(self, users: Tensor, batch_size: int, seed: int):
        self.users = users
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
        super().__init__(users, batch_size, seed)
        self.inputs, self.targets, self.num_negatives = inputs, targets, num_negatives  # [R, max_len] each
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
    """Masked-item batches (BERT4Rec's cloze task) over windows ending every ``stride`` items.

    Batch ``{"users": [B], "sequence": [B, L], "masked": bool [B, L]}``: each real position is
    masked with probability ``masking.prob``, and a row with no masked position gets its latest
    item masked (the position scoring predicts). With probability ``masking.last_prob`` a row
    instead has only its latest item masked: the task scoring poses, a mask with no item after it
    (Sun et al.'s extra training samples; RecBole's ``ft_ratio`` draws them per batch). The model
    replaces masked items with its own mask token and predicts ``sequence`` there.

    ``masking.stride`` (default ``max_len``: windows that do not overlap) below ``max_len`` gives
    overlapping windows, so each item is seen, and masked, in several contexts per epoch; at 1
    every prefix is a row, as RecBole trains BERT4Rec.
    """

    def __init__(self, sequences: Sequences, max_len: int, batch_size: int, seed: int, masking: Masking):
        users, self.starts, self.ends = sequences.window_bounds(max_len, masking.stride or max_len)
        super().__init__(users, batch_size, seed)
        self.items = torch.from_numpy(sequences.items)
        self.masking = masking

    def __getitem__(self, index: tuple[int, int] | int) -> dict[str, Tensor]:
        epoch, step = epoch_step(index)
        rows = self._rows(epoch, step)
        sequence = gather_windows(self.items, self.starts[rows], self.ends[rows])  # [B, L'], L' <= max_len
        real = sequence != PAD
        generator = _generator(self.seed, epoch, step)
        masked = real & (torch.rand(sequence.shape, generator=generator) < self.masking.prob)
        last_only = ~masked.any(dim=1)
        if self.masking.last_prob > 0:
            chosen = torch.rand(len(rows), generator=generator) < self.masking.last_prob  # [B]
            masked[chosen] = False
            last_only |= chosen
        latest = real.sum(dim=1) - 1  # every window holds at least one item
        masked[last_only.nonzero().view(-1), latest[last_only]] = True
        return {"users": self.users[rows], "sequence": sequence, "masked": masked}


def sequence_batches(split: SplitData, batch_kind: str, max_len: int, batch_size: int, seed: int,
                     num_negatives: int = 0, masking: Masking | None = None) -> Dataset:
    """The training batches of a sequence model, from the split's training items in time order."""
    sequences = build_sequences(split, "train")
    if batch_kind == "next_item":
        return NextItemBatches(sequences, split.train, max_len, batch_size, seed, num_negatives)
    return MaskedItemBatches(sequences, max_len, batch_size, seed, masking or Masking())
