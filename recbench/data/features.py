"""Side information aligned to a dataset's user or item indices.

A feature file gives values for original ids; :func:`build_feature_matrix` turns the fields read
from such files (:class:`FieldValues`) into one dense :class:`FeatureMatrix` whose row ``r``
belongs to the user or item of index ``r``. Four kinds of field:

* ``categorical``: one or many values per id (genres, tags, occupation), as a multi-hot block;
* ``numeric``: one number per id (year, age), standardised over the ids that have it;
* ``text``: one string per id, turned into a vector by a text encoder (``encoder=``);
* ``vector``: a precomputed dense vector per id (an image encoder's output, say).

An id without a value gets a zero row and ``mask`` False, never a shifted row; rows for ids that
the dataset does not have are dropped and counted in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recbench.errors import RecbenchError, require

log = logging.getLogger(__name__)

KINDS = ("categorical", "numeric", "text", "vector")


@dataclass(frozen=True)
class FieldInfo:
    """Where one feature sits in a :class:`FeatureMatrix`.

    Attributes:
        kind: ``categorical``, ``numeric``, ``text`` or ``vector``.
        columns: the field's columns of ``values``.
        coverage: share of ids that have a value for this field.
        mask: bool ``[n]``, True where the id has a value for this field.
        labels: the category of each column (categorical fields; sorted), else empty.
    """

    kind: str
    columns: slice
    coverage: float
    mask: np.ndarray
    labels: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        return self.columns.stop - self.columns.start


@dataclass(frozen=True)
class FeatureMatrix:
    """Side information aligned to the dataset's user or item indices.

    Attributes:
        values: float32 ``[n, dim]``; rows of ids without features are all zero.
        mask: bool ``[n]``; True where the id has at least one feature.
        fields: feature name -> :class:`FieldInfo`, in column order.
    """

    values: np.ndarray
    mask: np.ndarray
    fields: dict[str, FieldInfo]

    @property
    def dim(self) -> int:
        return self.values.shape[1]

    def __len__(self) -> int:
        return self.values.shape[0]

    def select(self, names: Sequence[str] | None) -> "FeatureMatrix":
        """The matrix restricted to fields ``names`` (in that order); None keeps all fields.

        Raises:
            RecbenchError: a name the matrix does not have (listing the ones it has).
        """
        if names is None:
            return self
        names = list(names)
        unknown = [name for name in names if name not in self.fields]
        require(not unknown, f"unknown feature field(s) {unknown}: this dataset has {list(self.fields)}. "
                             "Fix model.item_fields / model.user_fields (null uses all)")
        require(len(names) > 0, "model.item_fields / model.user_fields is empty: list fields, or null for all")
        blocks, fields, start = [], {}, 0
        for name in names:
            info = self.fields[name]
            blocks.append(self.values[:, info.columns])
            fields[name] = FieldInfo(info.kind, slice(start, start + info.dim), info.coverage, info.mask, info.labels)
            start += info.dim
        mask = np.logical_or.reduce([info.mask for info in fields.values()])
        return FeatureMatrix(np.ascontiguousarray(np.concatenate(blocks, axis=1)), mask, fields)

    def fingerprint(self) -> str:
        """sha256 over the values, the mask and the field layout (16 hex digits)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.values).tobytes())
        digest.update(self.mask.tobytes())
        digest.update(json.dumps({name: [info.kind, info.columns.start, info.columns.stop]
                                  for name, info in self.fields.items()}).encode())
        return digest.hexdigest()[:16]

    def describe(self) -> list[tuple[str, str, int, float]]:
        """``(name, kind, dimension, coverage)`` of each field."""
        return [(name, info.kind, info.dim, info.coverage) for name, info in self.fields.items()]


@dataclass(frozen=True)
class FieldValues:
    """One field as read from its file, keyed by original id (before alignment).

    Attributes:
        name: the field's name.
        kind: one of :data:`KINDS`.
        ids: original id of each row ``[m]``.
        values: per row: the category label (categorical; an id may have many rows), the number
            (numeric), the string (text); for ``vector``, a float ``[m, dim]`` array.
        source: where the values came from, for messages.
    """

    name: str
    kind: str
    ids: np.ndarray
    values: np.ndarray
    source: str


def shown(value) -> str:
    """An id as a user would write it: numpy scalars unwrapped, whole floats without ``.0``."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def match_ids(ids: np.ndarray, dataset_ids: np.ndarray, source: str) -> np.ndarray:
    """Index of each feature id in the dataset's ids, -1 where the dataset does not have it.

    Feature ids are compared with the dataset's ids after converting to the dataset's id type
    (a file read as text whose ids are all whole numbers matches integer ids).

    Raises:
        RecbenchError: ids of another type (text against integer ids) or no id in common.
    """
    ids = pd.Series(ids)
    if pd.api.types.is_numeric_dtype(dataset_ids.dtype):
        numeric = pd.to_numeric(ids, errors="coerce")
        bad = numeric.isna() & ids.notna()
        if bad.any():
            raise RecbenchError(
                f"{source}: id {ids[bad].iloc[0]!r} is not a number, but the dataset's ids are numbers "
                f"(e.g. {dataset_ids[0]!r}). Point the feature's id at the column holding the dataset's ids")
        ids = numeric
        if pd.api.types.is_integer_dtype(dataset_ids.dtype):
            whole = ids % 1 == 0
            if not whole.all():
                raise RecbenchError(f"{source}: id {ids[~whole].iloc[0]!r} is not a whole number, but the "
                                    "dataset's ids are integers")
            ids = ids.astype("Int64")
    else:
        ids = ids.astype(str)
        dataset_ids = dataset_ids.astype(str)
    index = pd.Index(dataset_ids).get_indexer(ids.to_numpy())
    if not (index >= 0).any():
        example = shown(ids.iloc[0]) if len(ids) else "none"
        raise RecbenchError(f"{source}: none of its {len(ids)} ids is a dataset id (the file has e.g. {example}, "
                            f"the dataset {shown(dataset_ids[0])}): check that the feature file belongs to this "
                            "dataset and that its id column is the right one")
    return index


def _check_single(field: FieldValues, rows: np.ndarray) -> None:
    """One row per id for numeric, text and vector fields."""
    if len(rows) == len(np.unique(rows)):
        return
    values, counts = np.unique(rows, return_counts=True)
    example = field.ids[np.flatnonzero(rows == values[counts > 1][0])[0]]
    raise RecbenchError(f"{field.source}: {int((counts > 1).sum())} id(s) appear more than once in a "
                        f"{field.kind} feature (e.g. {shown(example)}): keep one row per id")


def _block(field: FieldValues, rows: np.ndarray, n: int, encode_text: Callable[[list[str]], np.ndarray] | None
           ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The field's ``[n, dim]`` block, its mask ``[n]`` and its column labels, from matched rows."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    if field.kind == "categorical":
        labels, codes = np.unique(field.values.astype(str), return_inverse=True)
        block = np.zeros((n, len(labels)), dtype=np.float32)
        block[rows, codes.reshape(-1)] = 1.0
        return block, mask, tuple(labels.tolist())
    _check_single(field, rows)
    if field.kind == "numeric":
        values = field.values.astype(np.float64)
        if not np.isfinite(values).all():
            example = field.ids[np.flatnonzero(~np.isfinite(values))[0]]
            raise RecbenchError(f"{field.source}: numeric feature {field.name!r} holds NaN or inf (id "
                                f"{shown(example)}): fix the value or remove the row")
        std = values.std()
        block = np.zeros((n, 1), dtype=np.float32)
        # Standardised over the ids that have a value, so a missing value sits at the mean (0).
        block[rows, 0] = (values - values.mean()) / (std if std > 0 else 1.0)
        return block, mask, ()
    if field.kind == "vector":
        vectors = np.asarray(field.values, dtype=np.float32)
        if not np.isfinite(vectors).all():
            example = field.ids[np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0]]
            raise RecbenchError(f"{field.source}: vector feature {field.name!r} holds NaN or inf (id "
                                f"{shown(example)}): fix or drop that row")
        block = np.zeros((n, vectors.shape[1]), dtype=np.float32)
        block[rows] = vectors
        return block, mask, ()
    require(encode_text is not None, f"feature {field.name!r} is text, but no text encoder was given: "
                                     "set encoder=tfidf or encoder=minilm")
    encoded = np.asarray(encode_text([str(v) for v in field.values]), dtype=np.float32)
    block = np.zeros((n, encoded.shape[1]), dtype=np.float32)
    block[rows] = encoded
    return block, mask, ()


def build_feature_matrix(fields: Sequence[FieldValues], dataset_ids: np.ndarray, side: str,
                         encode_text: Callable[[list[str]], np.ndarray] | None = None) -> FeatureMatrix:
    """Align fields read from files to the dataset's ids and stack them into one matrix.

    Args:
        fields: the fields, in the order their columns take.
        dataset_ids: original id of each index ``[n]`` (``Interactions.user_ids`` or ``item_ids``).
        side: ``user`` or ``item``, for messages.
        encode_text: turns a list of strings into a float array ``[len, dim]`` (the text encoder).

    Raises:
        RecbenchError: unknown kind, ids of the wrong type or none in common, duplicate ids in a
            single-valued field, NaN or inf in numbers or vectors.
    """
    n = len(dataset_ids)
    blocks, infos, start = [], {}, 0
    for field in fields:
        require(field.kind in KINDS, f"feature {field.name!r}: kind must be one of {', '.join(KINDS)}, "
                                     f"got {field.kind!r}")
        index = match_ids(field.ids, dataset_ids, field.source)
        known = index >= 0
        if not known.all():
            log.info("%s features %r: dropped %d row(s) of %d for %s ids not in the dataset",
                     side, field.name, int((~known).sum()), len(known), side)
        kept = FieldValues(field.name, field.kind, field.ids[known], field.values[known], field.source)
        block, mask, labels = _block(kept, index[known], n, encode_text)
        infos[field.name] = FieldInfo(field.kind, slice(start, start + block.shape[1]), float(mask.mean()), mask,
                                      labels)
        blocks.append(block)
        start += block.shape[1]
    require(len(blocks) > 0, f"no {side} feature fields are declared")
    values = np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)
    mask = np.logical_or.reduce([info.mask for info in infos.values()])
    return FeatureMatrix(values, mask, infos)
