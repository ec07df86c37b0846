"""Reading feature fields from files, as a dataset config's ``features`` section declares them.

``dataset.features.item`` (and ``.user``) maps a field name to its spec::

    genres: {kind: categorical, file: movies.csv, id: movieId, value: genres, multi_sep: "|"}
    year:   {kind: numeric, file: movies.csv, id: movieId, value: title, extract: '\\((\\d{4})\\)\\s*$'}
    tags:   {kind: categorical, file: tags.csv, id: movieId, value: tag}        # many rows per id
    text:   {kind: text, join: [title, genres, tags]}                           # built from other fields
    image:  {kind: vector, file: image_vectors.parquet, id: item_id}            # or .npy / .npz

Spec keys: ``kind``; ``file`` (relative to the dataset folder, or absolute); for delimited files
``sep``, ``header``, ``encoding`` and ``names`` (the file's column names when it has no header);
``id`` and ``value`` (a column name or 0-based position; ``value`` may list several columns:
text joins them, categorical with ``flags: true`` reads them as 0/1 indicator columns named by
their column names); ``multi_sep`` (categorical: one cell holds several values); ``extract`` (a
regular expression with one group, applied to the value before use); ``lookup`` (categorical:
``{file, key, value, sep, header, encoding, names}``, a table that maps codes to labels, e.g.
Last.fm's tag ids to tag names); ``join`` (text: other fields of the same side whose values are
joined into one string per id); ``min_count`` (categorical: keep only values that at least this
many ids have, which bounds the width of a tag vocabulary); ``keep: false`` (read the field only
to join it into a text field; it gets no columns of its own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from recbench.data.features import KINDS, FieldValues, shown
from recbench.errors import RecbenchError, require

SPEC_KEYS = {"kind", "file", "sep", "header", "encoding", "names", "id", "value", "multi_sep", "extract",
             "flags", "lookup", "join", "min_count", "keep"}


def _column(frame: pd.DataFrame, column, source: str, what: str) -> pd.Series:
    """A column by name or by 0-based position, or a message listing the file's columns."""
    if column in frame.columns:
        return frame[column]
    if isinstance(column, int) and 0 <= column < frame.shape[1]:
        return frame.iloc[:, column]
    raise RecbenchError(f"{source}: {what} column {column!r} not found; the file has columns "
                        f"{[str(c) for c in frame.columns]}. Fix the feature's {what} (a column name or position)")


def read_table(path: Path, sep: str = ",", header: bool = True, encoding: str = "utf-8",
               names: list | None = None) -> pd.DataFrame:
    """A delimited file read as text (every cell a string; empty cells are missing)."""
    try:
        return pd.read_csv(path, sep=sep, header=0 if header else None, names=names, dtype=str,
                           keep_default_na=False, na_values=[""], encoding=encoding,
                           engine="python" if len(sep) > 1 else "c")
    except FileNotFoundError:
        raise RecbenchError(f"feature file {path} does not exist: check the feature's file "
                            "(relative to the dataset folder)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise RecbenchError(f"could not parse feature file {path}: {error}. Check its sep, header "
                            "and encoding") from None


def _extract(values: pd.Series, pattern: str | None, source: str) -> pd.Series:
    if pattern is None:
        return values
    try:
        return values.str.extract(pattern, expand=False)
    except (re.error, ValueError) as error:
        raise RecbenchError(f"{source}: feature extract pattern {pattern!r} is not a regular expression "
                            f"with one group: {error}") from None


def _to_float(text: str) -> float | None:
    try:
        return float(text)  # "nan" and "inf" parse here and are refused later, with their own message
    except ValueError:
        return None


def _numbers(values: pd.Series, ids: pd.Series, source: str) -> np.ndarray:
    numeric = values.map(_to_float)
    bad = numeric.isna() & ~values.str.strip().str.lower().isin(["nan", "-nan", "+nan"])
    if bad.any():
        raise RecbenchError(f"{source}: id {ids[bad].iloc[0]!r} has {values[bad].iloc[0]!r}, which is not a "
                            "number: fix the value or remove the row (empty cells count as missing)")
    return numeric.to_numpy(np.float64, na_value=np.nan)


def _lookup(codes: pd.Series, spec: Mapping, folder: Path, source: str) -> pd.Series:
    """Map codes to labels through a second table (``lookup``); unknown codes are an error."""
    path = folder / spec["file"]
    table = read_table(path, spec.get("sep", ","), spec.get("header", True), spec.get("encoding", "utf-8"),
                       spec.get("names"))
    keys = _column(table, spec.get("key", 0), str(path), "lookup key")
    labels = _column(table, spec.get("value", 1), str(path), "lookup value")
    mapping = dict(zip(keys, labels))
    mapped = codes.map(mapping)
    missing = mapped.isna() & codes.notna()
    if missing.any():
        raise RecbenchError(f"{source}: code {codes[missing].iloc[0]!r} is not in {path}: "
                            "fix the lookup's key column or the codes")
    return mapped


def _tabular_field(name: str, spec: Mapping, folder: Path) -> FieldValues:
    """A categorical, numeric or text field from a delimited file."""
    kind = spec["kind"]
    path = folder / spec["file"]
    source = f"{path} ({kind} feature {name!r})"
    frame = read_table(path, spec.get("sep", ","), spec.get("header", True), spec.get("encoding", "utf-8"),
                       spec.get("names"))
    ids = _column(frame, spec.get("id", 0), source, "id")
    columns = spec.get("value", 1)
    columns = list(columns) if isinstance(columns, (list, tuple)) else [columns]
    series = [_column(frame, column, source, "value") for column in columns]
    if kind == "categorical" and spec.get("flags", False):
        flags = np.column_stack([pd.to_numeric(s, errors="coerce").fillna(0).to_numpy() > 0 for s in series])
        rows, cols = np.nonzero(flags)
        labels = np.asarray([str(c) for c in columns])
        return FieldValues(name, kind, ids.to_numpy()[rows], labels[cols], source)
    if kind == "text":
        text = series[0].fillna("")
        for more in series[1:]:
            text = text.str.cat(more.fillna(""), sep=" ")
        values = _extract(text.str.strip(), spec.get("extract"), source)
    else:
        require(len(series) == 1, f"{source}: a {kind} feature reads one value column, got {columns}")
        values = _extract(series[0], spec.get("extract"), source)
    present = values.notna() & ids.notna() & (values.astype(str).str.len() > 0)
    ids, values = ids[present].reset_index(drop=True), values[present].reset_index(drop=True)
    if kind == "categorical":
        if spec.get("multi_sep"):
            exploded = values.str.split(spec["multi_sep"], regex=False).explode().str.strip()
            ids, values = ids[exploded.index].reset_index(drop=True), exploded.reset_index(drop=True)
        if spec.get("lookup"):
            values = _lookup(values, spec["lookup"], folder, source)
        if spec.get("min_count"):
            pairs = pd.DataFrame({"id": ids.astype(str), "value": values}).drop_duplicates()
            counts = pairs["value"].value_counts()
            common = values.isin(counts.index[counts >= int(spec["min_count"])]).to_numpy()
            ids, values = ids[common].reset_index(drop=True), values[common].reset_index(drop=True)
        return FieldValues(name, kind, ids.to_numpy(), values.astype(str).to_numpy(), source)
    if kind == "numeric":
        return FieldValues(name, kind, ids.to_numpy(), _numbers(values, ids, source), source)
    return FieldValues(name, kind, ids.to_numpy(), values.astype(str).to_numpy(), source)


def read_vectors(path: Path, id_column=None, value=None) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [m], vectors [m, dim])`` from ``.npy``, ``.npz`` or Parquet.

    * ``.npy``: a 2-D numeric array whose first column is the id and the rest the vector;
    * ``.npz``: arrays ``ids`` ``[m]`` and ``vectors`` ``[m, dim]`` (any id type but objects);
    * Parquet: an id column (``id``, default ``id``) and either one list column (``value``) or,
      when ``value`` is not given, every other column as one vector component.

    Raises:
        RecbenchError: unreadable file, vectors of different lengths, non-numeric components.
    """
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            require(array.ndim == 2 and array.shape[1] >= 2,
                    f"{path}: a .npy vector file must be 2-D [n, 1 + dim] (id, then the vector), got shape "
                    f"{array.shape}; use .npz with 'ids' and 'vectors' for other ids")
            return array[:, 0], array[:, 1:].astype(np.float64)
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                require({"ids", "vectors"} <= set(archive.files),
                        f"{path}: a .npz vector file must hold arrays 'ids' and 'vectors', has {archive.files}")
                ids, vectors = archive["ids"], archive["vectors"]
            require(vectors.ndim == 2 and len(ids) == len(vectors),
                    f"{path}: 'vectors' must be [n, dim] with one row per id, got {vectors.shape} for {len(ids)} ids")
            return ids, vectors.astype(np.float64)
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise RecbenchError(f"vector file {path} does not exist: check the feature's file") from None
    except (OSError, ValueError) as error:
        raise RecbenchError(f"could not read vector file {path}: {error}") from None
    ids = _column(frame, id_column if id_column is not None else "id", str(path), "id")
    if value is not None:
        cells = _column(frame, value, str(path), "value")
        lengths = cells.map(lambda cell: -1 if cell is None else len(cell)).to_numpy()
        if len(set(lengths.tolist())) > 1:
            first = int(np.flatnonzero(lengths != lengths[0])[0])
            raise RecbenchError(f"{path}: vectors have different lengths ({lengths[0]} for id {shown(ids.iloc[0])}, "
                                f"{lengths[first]} for id {shown(ids.iloc[first])}): every vector needs the "
                                "same dimension")
        vectors = np.stack([np.asarray(cell, dtype=np.float64) for cell in cells])
    else:
        rest = frame.drop(columns=[ids.name])
        non_numeric = [c for c in rest.columns if not pd.api.types.is_numeric_dtype(rest[c])]
        require(not non_numeric, f"{path}: vector column(s) {non_numeric} are not numeric: name the list column "
                                 "with value=, or keep only numeric component columns")
        vectors = rest.to_numpy(np.float64)
    return ids.to_numpy(), vectors


def _vector_field(name: str, spec: Mapping, folder: Path) -> FieldValues:
    path = folder / spec["file"]
    ids, vectors = read_vectors(path, spec.get("id"), spec.get("value"))
    return FieldValues(name, "vector", np.asarray(ids), vectors, f"{path} (vector feature {name!r})")


def _joined_field(name: str, parts: list[str], read: dict[str, FieldValues], side: str) -> FieldValues:
    """A text field whose string per id joins the values of other fields (``join``)."""
    missing = [part for part in parts if part not in read]
    require(not missing, f"text feature {name!r} joins {missing}, which are not {side} features declared "
                         f"before it: declare them first (known: {list(read)})")
    frames = []
    for order, part in enumerate(parts):
        field = read[part]
        require(field.kind != "vector", f"text feature {name!r} cannot join vector feature {part!r}")
        values = [f"{v:g}" if isinstance(v, float) else str(v) for v in field.values]
        frames.append(pd.DataFrame({"id": field.ids, "order": order, "value": values}))
    frame = pd.concat(frames, ignore_index=True)
    frame["key"] = frame["id"].astype(str)
    frame = frame.drop_duplicates(["key", "order", "value"])  # a tag given by many users counts once
    # Categorical values of one id become "a, b, c"; the fields then join as sentences.
    per_field = frame.groupby(["key", "order"], sort=True).agg(id=("id", "first"), value=("value", ", ".join))
    per_id = per_field.groupby(level="key", sort=True).agg(id=("id", "first"), value=("value", ". ".join))
    return FieldValues(name, "text", per_id["id"].to_numpy(), per_id["value"].to_numpy(),
                       f"text feature {name!r} (joined from {parts})")


def read_fields(specs: Mapping, folder: Path | str, side: str) -> list[FieldValues]:
    """Read every field of one side (``dataset.features.user`` or ``.item``), in declaration order.

    Raises:
        RecbenchError: an unknown spec key or kind, a missing file or column, a bad value.
    """
    folder = Path(folder)
    read: dict[str, FieldValues] = {}
    for name, spec in specs.items():
        require(isinstance(spec, Mapping) and "kind" in spec,
                f"dataset.features.{side}.{name} must be a mapping with a kind ({', '.join(KINDS)})")
        unknown = sorted(set(spec) - SPEC_KEYS)
        require(not unknown, f"dataset.features.{side}.{name} has unknown key(s) {unknown}: use {sorted(SPEC_KEYS)}")
        kind = spec["kind"]
        require(kind in KINDS, f"dataset.features.{side}.{name}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind == "text" and spec.get("join"):
            read[name] = _joined_field(name, list(spec["join"]), read, side)
            continue
        require(spec.get("file"), f"dataset.features.{side}.{name} needs a file")
        read[name] = _vector_field(name, spec, folder) if kind == "vector" else _tabular_field(name, spec, folder)
    return [read[name] for name, spec in specs.items() if spec.get("keep", True)]
