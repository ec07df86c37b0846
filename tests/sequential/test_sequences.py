"""Sequences from a split, padded histories and training windows, against hand-built examples."""

import numpy as np
import pandas as pd
import pytest
import torch

from recbench.data.interactions import Interactions, Role, SplitData
from recbench.data.sequences import PAD, build_sequences, gather_windows
from recbench.errors import RecbenchError

T, V, X = Role.TRAIN, Role.VALID, Role.TEST
# user, item, timestamp, role. User 0 has a timestamp tie among training items (20: items 7 and 3),
# user 1 a tie between a training item and its validation target (5: items 4 and 0).
ROWS = [
    (0, 5, 10, T), (0, 7, 20, T), (0, 3, 20, T), (0, 1, 30, V), (0, 2, 40, X),
    (1, 0, 5, V), (1, 4, 5, T), (1, 6, 1, T), (1, 2, 9, X),
    (2, 1, 3, X),  # user 2: nothing known before the test
]


def hand_split(rows=ROWS, timestamps=True) -> SplitData:
    users, items, times, roles = (np.array(column) for column in zip(*rows))
    frame = pd.DataFrame({"user": users, "item": items})
    if timestamps:
        frame["timestamp"] = times
    data = Interactions.from_frame(frame)
    # every id 0..n-1 occurs, so ids encode to themselves and the expectations read as indices
    assert data.item_ids.tolist() == list(range(8)) and data.user_ids.tolist() == [0, 1, 2]
    return SplitData(data, roles.astype(np.int8))


def as_lists(sequences):
    return [sequences.items[a:b].tolist() for a, b in zip(sequences.indptr[:-1], sequences.indptr[1:])]


def test_stage_sequences_are_time_ordered_with_the_documented_tie_break():
    split = hand_split()
    # ties in training: by item index (3 before 7)
    assert as_lists(build_sequences(split, "train")) == [[5, 3, 7], [6, 4], []]
    assert as_lists(build_sequences(split, "valid")) == [[5, 3, 7], [6, 4], []]
    # the validation target follows the training item it ties with, although its index is lower
    assert as_lists(build_sequences(split, "test")) == [[5, 3, 7, 1], [6, 4, 0], []]


def test_padded_keeps_the_latest_items_left_aligned_with_pad_on_the_right():
    sequences = build_sequences(hand_split(), "test")
    assert sequences.padded(5).tolist() == [[5, 3, 7, 1, PAD], [6, 4, 0, PAD, PAD], [PAD] * 5]
    assert sequences.padded(2).tolist() == [[7, 1], [4, 0], [PAD, PAD]]  # truncated: the latest kept
    assert sequences.padded(2).dtype == torch.int64


def test_next_item_windows_cover_every_target_once_from_the_latest_end():
    sequences = build_sequences(hand_split(), "test")  # [5, 3, 7, 1], [6, 4, 0], []
    users, inputs, targets = sequences.windows(2, shifted=True)
    # user 0 has 3 (input, target) pairs: windows [3, 7]->[7, 1] (latest) and [5]->[3]
    assert users.tolist() == [0, 0, 1]
    assert inputs.tolist() == [[3, 7], [5, PAD], [6, 4]]
    assert targets.tolist() == [[7, 1], [3, PAD], [4, 0]]
    users, inputs, targets = sequences.windows(10, shifted=True)
    assert inputs[0, :3].tolist() == [5, 3, 7] and targets[0, :3].tolist() == [3, 7, 1]


def test_masked_windows_hold_the_items_themselves():
    users, inputs, targets = build_sequences(hand_split(), "test").windows(3, shifted=False)
    assert targets is None
    assert users.tolist() == [0, 0, 1]
    assert inputs.tolist() == [[3, 7, 1], [5, PAD, PAD], [6, 4, 0]]


def windows_of(sequences, max_len, stride):
    users, starts, ends = sequences.window_bounds(max_len, stride)
    return users.tolist(), gather_windows(torch.from_numpy(sequences.items), starts, ends).tolist()


def test_window_bounds_without_overlap_are_the_masked_windows():
    sequences = build_sequences(hand_split(), "test")  # [5, 3, 7, 1], [6, 4, 0], []
    users, inputs, _ = sequences.windows(3, shifted=False)
    assert windows_of(sequences, 3, 3) == (users.tolist(), inputs.tolist())


def test_a_stride_of_one_gives_every_prefix_cut_to_max_len():
    sequences = build_sequences(hand_split(), "test")
    users, rows = windows_of(sequences, 3, 1)
    assert users == [0, 0, 0, 0, 1, 1, 1]
    assert rows == [[3, 7, 1], [5, 3, 7], [5, 3, PAD], [5, PAD, PAD], [6, 4, 0], [6, 4, PAD], [6, PAD, PAD]]
    # a stride between: windows end 2 items apart, each holding up to max_len items
    assert windows_of(sequences, 3, 2) == ([0, 0, 1, 1], [[3, 7, 1], [5, 3, PAD], [6, 4, 0], [6, PAD, PAD]])


def test_sequences_need_timestamps_and_a_positive_max_len():
    with pytest.raises(RecbenchError, match="no timestamps"):
        build_sequences(hand_split(timestamps=False), "train")
    with pytest.raises(RecbenchError, match="model.max_len must be a positive integer"):
        build_sequences(hand_split(), "train").padded(0)
