"""Published splits used as they are: train/valid/test files given by the user."""

from __future__ import annotations

from pathlib import Path

import logging

import numpy as np
import pandas as pd

from recbench.data.interactions import ITEM, RATING, TIMESTAMP, USER, Interactions, Role, SplitData
from recbench.data.readers import read_interactions
from recbench.errors import RecbenchError

log = logging.getLogger(__name__)
UNSEEN = ("keep", "drop", "error")


def _encode(ids: pd.Series, known: np.ndarray) -> np.ndarray:
    """Index of each id in ``known`` (-1 when absent), comparing as text if the types differ."""
    index = pd.Index(known)
    codes = index.get_indexer(ids)
    if (codes < 0).any() and index.dtype != ids.dtype:
        codes = pd.Index(known.astype(str)).get_indexer(ids.astype(str))
    return codes


def _show(value) -> str:
    """An id as the user wrote it (numpy scalars print as plain numbers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


class PredefinedSplit:
    """Train/valid/test files as published with a paper, checked and used as they are.

    The files are read with the same readers as datasets and mapped onto the dataset's ids, so
    the item indices (and therefore tie-breaking in the ranking) are those of the dataset. Checks:
    every id exists in the dataset and no (user, item) pair is in two files.

    Published splits (RecBole's, most papers' 80/10/10) put some users or items in the validation
    and test files that never occur in training. ``unseen`` says what happens to those targets:
    ``keep`` (the default, as RecBole does) evaluates them, with a warning giving the counts; a
    model has learnt nothing about them, so they are nearly always misses and lower the metrics
    as they should. ``drop`` removes them (warning with the counts); ``error`` refuses the split.

    Args:
        train, valid, test: the files (``valid`` may be null: no validation stage).
        folder: the folder the file names are relative to (null: as given).
        unseen: ``keep``, ``drop`` or ``error``.
        **reader: options of :func:`~recbench.data.readers.read_interactions` (``format``, ``sep``,
            ``header``, ``columns``, ``timestamp_unit``, ``ids``).
    """

    cacheable = False  # the files are the split: nothing to compute, so nothing to cache
    time_ordered = True  # the files' timestamps order the histories (sequence models need them)

    def __init__(self, train: str, test: str, valid: str | None = None, folder: str | None = None,
                 unseen: str = "keep", **reader):
        if unseen not in UNSEEN:
            raise RecbenchError(f"split.unseen must be one of {list(UNSEEN)}, got {unseen!r}")
        self.files = {Role.TRAIN: train, Role.VALID: valid, Role.TEST: test}
        self.folder = folder
        self.unseen = unseen
        self.reader = {**reader, "setting": "split"}

    def __call__(self, data: Interactions, seed: int) -> SplitData:
        parts = []
        for role, file in self.files.items():
            if file is None:
                continue
            frame = read_interactions(file, folder=self.folder, **self.reader)
            users, items = _encode(frame[USER], data.user_ids), _encode(frame[ITEM], data.item_ids)
            unknown = (users < 0) | (items < 0)
            if unknown.any():
                row = int(np.flatnonzero(unknown)[0])
                raise RecbenchError(
                    f"{Path(self.folder or '.') / file}, row {row + 1}: user {_show(frame[USER].iloc[row])} or item "
                    f"{_show(frame[ITEM].iloc[row])} is not in dataset (after preprocessing): use the dataset the "
                    "split was made from, and turn off preprocessing filters that drop ids")
            parts.append(pd.DataFrame({"u": users, "i": items, "role": np.int8(role),
                                       RATING: frame[RATING] if RATING in frame else np.nan,
                                       TIMESTAMP: frame[TIMESTAMP] if TIMESTAMP in frame else 0}))
        table = pd.concat(parts, ignore_index=True)
        self._check_repeats(table)
        table = self._unseen(table)
        interactions = Interactions(
            user_ids=data.user_ids, item_ids=data.item_ids,
            users=table["u"].to_numpy(np.int64), items=table["i"].to_numpy(np.int64),
            ratings=table[RATING].to_numpy(np.float32) if table[RATING].notna().all() else None,
            timestamps=table[TIMESTAMP].to_numpy(np.int64) if data.timestamps is not None else None,
            item_info=data.item_info)
        return SplitData(interactions, table["role"].to_numpy(np.int8))

    def _check_repeats(self, table: pd.DataFrame) -> None:
        repeated = table.duplicated(["u", "i"], keep=False).to_numpy()
        if repeated.any():
            both = table[repeated].sort_values(["u", "i"])
            files = sorted({self.files[r] for r in both["role"].head(2)})
            raise RecbenchError(f"the predefined split puts {int(repeated.sum())} interaction(s) in more than one "
                                f"part (or twice in one), e.g. in {files}: remove the repeats so each "
                                "interaction is in one file once")

    def _unseen(self, table: pd.DataFrame) -> pd.DataFrame:
        """Apply ``unseen`` to evaluation targets whose user or item never occurs in training."""
        train = table[table["role"] == Role.TRAIN]
        evaluated = (table["role"] != Role.TRAIN).to_numpy()
        cold = np.zeros(len(table), dtype=bool)
        counts = []
        for column, what in (("u", "user"), ("i", "item")):
            mask = evaluated & ~np.isin(table[column].to_numpy(), train[column].to_numpy())
            cold |= mask
            for role in (Role.VALID, Role.TEST):
                in_role = mask & (table["role"].to_numpy() == role)
                if in_role.any():
                    counts.append(f"{int(in_role.sum())} in {self.files[role]} with a {what} "
                                  f"({table.loc[in_role, column].nunique()} distinct)")
        if not cold.any():
            return table
        found = f"{'; '.join(counts)} never occurring in the training file {self.files[Role.TRAIN]}"
        if self.unseen == "error":
            raise RecbenchError(f"the predefined split has interactions {found}: a model cannot learn them. "
                                "Set split.unseen=keep (evaluate them, as misses) or split.unseen=drop")
        if self.unseen == "drop":
            log.warning("split.unseen=drop: dropping %d evaluation interaction(s): %s", int(cold.sum()), found)
            return table[~cold].reset_index(drop=True)
        log.warning("split.unseen=keep: evaluating %d interaction(s) %s; they count as (nearly always) misses. "
                    "split.unseen=drop removes them", int(cold.sum()), found)
        return table


def export_split(split: SplitData, folder: Path) -> dict[str, Path]:
    """Write a split's train/valid/test parts as Parquet with original ids (for ``split=predefined``).

    Returns:
        ``{"train": path, "valid": path, "test": path}``.
    """
    data = split.interactions
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, role in (("train", Role.TRAIN), ("valid", Role.VALID), ("test", Role.TEST)):
        mask = split.roles == role
        frame = pd.DataFrame({USER: data.user_ids[data.users[mask]], ITEM: data.item_ids[data.items[mask]]})
        if data.ratings is not None:
            frame[RATING] = data.ratings[mask]
        if data.timestamps is not None:
            frame[TIMESTAMP] = data.timestamps[mask]
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths
