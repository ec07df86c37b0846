"""Each user's interactions in time order, built once from a split in whole arrays.

A :class:`Sequences` holds every user's items flat, oldest first, with CSR-style offsets; from it
come the padded ``[users, max_len]`` histories that sequence models score from and the windows
they train on. Layout of every padded tensor here: **left-aligned, padded on the right with**
:data:`PAD` (``-1``), so position ``t`` of a row is the user's ``t``-th kept item and the latest item
sits at ``length - 1``. A causal model then never sees padding before a real item, and appending
pad columns changes nothing.

Order: by timestamp; interactions at the same timestamp are ordered training < validation target
< test target (the order the time-ordered splits chose when they drew the targets), then by item
index. Only the latest ``max_len`` items of a history are kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from hydra.utils import get_class
from torch import Tensor

from recbench.data.interactions import Role, SplitData
from recbench.errors import IncompatibleError, require, require_positive
from recbench.plugin import model_name, reads_sequences

log = logging.getLogger(__name__)

PAD = -1  # the item index of an empty position in every padded sequence tensor

# Roles a stage's history is made of, as SplitData.stage builds its history matrices.
STAGE_ROLES = {
    "train": (Role.TRAIN,),
    "valid": (Role.TRAIN, Role.VALID_FOLD_IN),
    "test": (Role.TRAIN, Role.VALID, Role.VALID_FOLD_IN, Role.TEST_FOLD_IN),
}
# Tie-break among interactions with the same timestamp: targets after the history they follow.
_ROLE_ORDER = np.array([0, 1, 2, 0, 0])  # indexed by Role code


@dataclass(frozen=True)
class Sequences:
    """Every user's items in time order, flat: user ``u`` owns ``items[indptr[u]:indptr[u + 1]]``.

    Attributes:
        items: int64 ``[nnz]`` item indices, each user's oldest first.
        indptr: int64 ``[n_users + 1]`` offsets into ``items``.
    """

    items: np.ndarray
    indptr: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``[n_users]`` number of items of each user."""
        return np.diff(self.indptr)

    def _user_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_users), self.lengths)  # [nnz]

    def padded(self, max_len: int) -> Tensor:
        """The latest ``max_len`` items of every user, int64 ``[n_users, max_len]``, PAD on the right."""
        require_positive("model.max_len", max_len, integer=True)
        kept = np.minimum(self.lengths, max_len)
        start = self.indptr[1:] - kept  # [n_users] flat index of each user's first kept item
        user = self._user_of()
        offset = np.arange(len(self.items)) - start[user]
        keep = offset >= 0
        out = np.full((self.n_users, max_len), PAD, dtype=np.int64)
        out[user[keep], offset[keep]] = self.items[keep]
        return torch.from_numpy(out)

    def windows(self, max_len: int, shifted: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """Training rows: each user's sequence cut into windows of ``max_len`` from the latest end.

        With ``shifted`` (next-item training), window positions hold inputs ``s[t]`` and targets
        ``s[t + 1]``, so every prefix of the sequence predicts its next item and each item after
        the first is a target exactly once; a user with one item gives no row. Without it (masked-
        item training) the windows hold the items themselves. Windows do not overlap; the oldest
        may be shorter than ``max_len``.

        Returns:
            ``(users, inputs, targets)``: int64 ``[R]``, ``[R, max_len]`` and ``[R, max_len]``
            (None unless ``shifted``), PAD on the right.
        """
        require_positive("model.max_len", max_len, integer=True)
        shift = int(shifted)
        count = np.maximum(self.lengths - shift, 0)  # [n_users] positions to place
        n_windows = -(-count // max_len)  # ceil
        first_row = np.concatenate([[0], np.cumsum(n_windows)[:-1]])
        user = self._user_of()
        t = np.arange(len(self.items)) - self.indptr[:-1][user]  # position within the user's sequence
        place = t < count[user]  # the last item of a shifted sequence is only a target
        user, t = user[place], t[place]
        from_end = count[user] - 1 - t
        window = from_end // max_len  # 0 = the latest window
        window_start = np.maximum(count[user] - (window + 1) * max_len, 0)
        row = first_row[user] + window
        column = t - window_start
        flat = self.indptr[:-1][user] + t
        n_rows = int(n_windows.sum())
        inputs = np.full((n_rows, max_len), PAD, dtype=np.int64)
        inputs[row, column] = self.items[flat]
        targets = None
        if shifted:
            targets = np.full((n_rows, max_len), PAD, dtype=np.int64)
            targets[row, column] = self.items[flat + 1]
            targets = torch.from_numpy(targets)
        users = np.repeat(np.arange(self.n_users), n_windows)
        return torch.from_numpy(users), torch.from_numpy(inputs), targets

    def window_bounds(self, max_len: int, stride: int) -> tuple[Tensor, Tensor, Tensor]:
        """Training rows as bounds: windows of up to ``max_len`` items ending every ``stride`` items.

        User ``u``'s windows end after its latest item, then ``stride`` items earlier, and so on
        while an item is left; each holds the ``max_len`` items before its end (fewer at the
        start). ``stride == max_len`` gives :meth:`windows` without shift, in the same row order;
        a smaller stride gives overlapping windows, and ``stride == 1`` every prefix (RecBole's
        training samples). Only bounds are stored, so a small stride costs no ``[rows, max_len]``
        array; :func:`gather_windows` fills a batch.

        Returns:
            ``(users, starts, ends)``: int64 ``[R]`` each; a row holds ``items[starts:ends]``
            (flat indices).
        """
        require_positive("model.max_len", max_len, integer=True)
        require_positive("stride", stride, integer=True)
        n_windows = -(-self.lengths // stride)  # [n_users]
        users = np.repeat(np.arange(self.n_users), n_windows)
        first_row = np.cumsum(n_windows) - n_windows
        from_latest = np.arange(len(users)) - first_row[users]  # 0 = the window ending at the latest item
        ends = self.indptr[users + 1] - from_latest * stride
        starts = np.maximum(ends - max_len, self.indptr[users])
        return torch.from_numpy(users), torch.from_numpy(starts), torch.from_numpy(ends)


def gather_windows(items: Tensor, starts: Tensor, ends: Tensor) -> Tensor:
    """Rows ``items[starts[r]:ends[r]]``, int64 ``[R, longest]``, left-aligned, PAD on the right."""
    lengths = ends - starts
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    offsets = torch.arange(width)
    real = offsets[None, :] < lengths[:, None]  # [R, width]
    flat = (starts[:, None] + offsets[None, :]).clamp(max=len(items) - 1)
    return items[flat].masked_fill(~real, PAD)


def build_sequences(split: SplitData, stage: str) -> Sequences:
    """The time-ordered items of every user that a stage's history (or training) is made of.

    Args:
        split: a split of data with timestamps.
        stage: ``"train"`` (training interactions), ``"valid"`` (what is known when validating)
            or ``"test"`` (training and validation items, as the test history matrix).
    """
    data = split.interactions
    require(data.timestamps is not None,
            "sequence models read each user's history in time order, but this dataset has no "
            "timestamps: map a timestamp column in dataset.source.columns, or pick a model that "
            "does not read order")
    selected = np.flatnonzero(np.isin(split.roles, STAGE_ROLES[stage]))
    users, items = data.users[selected], data.items[selected]
    order = np.lexsort((items, _ROLE_ORDER[split.roles[selected]], data.timestamps[selected], users))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=data.n_users))]).astype(np.int64)
    return Sequences(items=items[order], indptr=indptr)


def history_sequences(split: SplitData, stage: str, max_len: int) -> Tensor:
    """The padded histories ``[n_users, max_len]`` a sequence model scores from in ``stage``.

    ``"valid"``: the training items; ``"test"``: training and validation items. Truncation to the
    latest ``max_len`` items is logged for the test stage (the longest histories), so once a run.
    """
    sequences = build_sequences(split, stage)
    if stage == "test":
        log_truncation(sequences, max_len)
    return sequences.padded(max_len)


def log_truncation(sequences: Sequences, max_len: int) -> None:
    """Say once how many histories are longer than ``max_len`` (their oldest items are dropped)."""
    longer = int((sequences.lengths > max_len).sum())
    if longer:
        log.info("%d of %d users have more than model.max_len=%d items; sequence models see only the "
                 "latest %d (the longest history has %d)", longer, sequences.n_users, max_len, max_len,
                 int(sequences.lengths.max()))


def embedding_tokens(sequence: Tensor, pad_token: int) -> Tensor:
    """``sequence`` ``[B, L]`` with PAD replaced by ``pad_token`` (an embedding's padding row)."""
    return sequence.masked_fill(sequence == PAD, pad_token)


def trim_padding(sequence: Tensor) -> int:
    """The width that keeps every real item of ``sequence`` ``[B, L]`` (at least 1).

    Cutting a batch to it drops only pad columns, which change no score (the plugin contract),
    and saves the work on them: most histories are far shorter than ``max_len``.
    """
    return max(int((sequence != PAD).sum(dim=1).max()), 1) if sequence.numel() else 1


def latest_positions(sequence: Tensor) -> Tensor:
    """int64 ``[B]`` position of each row's latest item (0 for an empty row) in ``[B, L]``."""
    return ((sequence != PAD).sum(dim=1) - 1).clamp(min=0)


def check_time_order(model_cfg, split_cfg, split_name: str) -> None:
    """Before any data is read: a sequence model needs a split whose targets follow the history.

    Args:
        model_cfg: the model config (``_target_`` names the plugin class).
        split_cfg: the split config.
        split_name: the split's config option name, for the message.
    """
    try:
        model_class, split_class = get_class(model_cfg._target_), get_class(split_cfg._target_)
    except Exception:  # noqa: BLE001 - a bad _target_ is reported when the object is built
        return
    if not reads_sequences(model_class):
        return
    if "max_len" in model_cfg:
        require_positive("model.max_len", model_cfg.max_len, integer=True)
    require(getattr(split_class, "time_ordered", False),
            f"model={model_name(model_cfg._target_)} reads each user's history in time order, but "
            f"split={split_name} has no time order (its targets are not the latest items): use "
            "split=leave_one_out or split=temporal", IncompatibleError)
