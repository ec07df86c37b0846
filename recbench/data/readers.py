"""One reader per file format, each returning the standard interaction frame.

The standard frame has columns ``user`` and ``item`` (original ids) and, when the file has them,
``rating`` (float) and ``timestamp`` (int64 seconds). Which column of the file is which is set by
``columns``: a mapping ``{standard name: column in the file}`` (a column name, or a 0-based
position), or a list naming the file's columns in order with the standard names (any other name
is dropped).

Every reader checks what it read and raises :class:`RecbenchError` naming the file, the line or
column, and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recbench.data.interactions import ITEM, RATING, TIMESTAMP, USER
from recbench.errors import RecbenchError

STANDARD = (USER, ITEM, RATING, TIMESTAMP)
DEFAULT_SETTING = "dataset.source"  # the config key whose options a reader gets (split for predefined)
TIMESTAMP_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _optional(columns) -> tuple[str, ...]:
    """Columns that may be absent: rating and timestamp when the mapping is the default one."""
    return (RATING, TIMESTAMP) if columns is None else ()


def _file_hint(setting: str) -> str:
    """The keys that say where a file is, for messages."""
    return ("split.folder and split.train / split.valid / split.test" if setting == "split"
            else f"dataset.path and {setting}.file")


def separator(sep: str, setting: str = DEFAULT_SETTING) -> str:
    """The field separator, with tab spellings a command line can carry.

    A literal tab does not survive the shell and Hydra's parser, so ``\\t`` (backslash, t) and
    ``tab`` both mean a tab.
    """
    if not isinstance(sep, str) or not sep:
        raise RecbenchError(f"{setting}.sep must be a non-empty string, got {sep!r}: e.g. {setting}.sep=',' "
                            f"or {setting}.sep=tab")
    return "\t" if sep in ("\\t", "tab", "TAB") else sep


def _column_map(columns, header: bool, setting: str = DEFAULT_SETTING) -> dict[str, str | int]:
    """``{standard name: file column}`` from the config's ``columns`` (mapping, list or None)."""
    if columns is None:
        return {name: name for name in STANDARD} if header else {name: i for i, name in enumerate(STANDARD)}
    if isinstance(columns, Mapping):
        mapping = {str(k): v for k, v in columns.items() if v is not None}
    elif isinstance(columns, Sequence) and not isinstance(columns, str):
        mapping = {str(name): i for i, name in enumerate(columns) if name in STANDARD}
    else:
        raise RecbenchError(f"{setting}.columns must be a mapping or a list, got {columns!r}")
    unknown = sorted(set(mapping) - set(STANDARD))
    if unknown:
        raise RecbenchError(f"{setting}.columns has unknown key(s) {unknown}: use {list(STANDARD)}")
    if USER not in mapping or ITEM not in mapping:
        raise RecbenchError(f"{setting}.columns must say which column is the user and which the item, "
                            f"got {mapping}")
    return mapping


def _by_position(mapping: dict[str, str | int], names: list) -> dict[str, str | int]:
    """Turn 0-based positions into the file's column names (for files whose columns are named)."""
    return {k: names[v] if isinstance(v, int) and 0 <= v < len(names) else v for k, v in mapping.items()}


ID_TYPES = ("auto", "string", "integer")
INT64_MAX = np.iinfo(np.int64).max


def _canonical_integers(text: pd.Series) -> bool:
    """Whether every id is written exactly as Python writes an int64 (no '007', '+7', '7.0')."""
    if not text.str.fullmatch(r"-?(0|[1-9][0-9]*)").all():
        return False
    digits = text.str.lstrip("-")
    return bool((digits.str.len() < 19).all() or (digits.map(int) <= INT64_MAX).all())


def standard_ids(values: pd.Series, file, column: str, id_type: str = "auto",
                 setting: str = DEFAULT_SETTING) -> pd.Series:
    """User or item ids kept as the file writes them.

    ``auto`` turns ids into int64 only when that loses nothing (every id written as a plain
    integer within int64), so "007", "07" and "7" stay three different ids and ids beyond int64
    stay text. ``string`` keeps every id as text; ``integer`` reads them as numbers ("007" = 7).
    The checks run on the distinct ids only, so they cost little on large files.

    Raises:
        RecbenchError: ``integer`` with an id that is not an integer or does not fit int64.
    """
    if id_type not in ID_TYPES:
        raise RecbenchError(f"{setting}.ids must be one of {list(ID_TYPES)}, got {id_type!r}")
    if pd.api.types.is_integer_dtype(values):
        return values.astype(str) if id_type == "string" else values.astype(np.int64)
    if pd.api.types.is_float_dtype(values):
        # Only formats with typed columns (Parquet, JSON) get here: a float id is a number.
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise RecbenchError(f"{file}: {column} ids are non-integer numbers: write them as integers or text")
        return standard_ids(values.astype(np.int64), file, column, id_type, setting)
    codes, uniques = pd.factorize(values)
    text = pd.Series(uniques).astype(str).str.strip()
    if id_type == "string" or (id_type == "auto" and not _canonical_integers(text)):
        return pd.Series(text.to_numpy(object)[codes], index=values.index)
    integer = text.str.fullmatch(r"[-+]?[0-9]+")
    numbers = pd.to_numeric(text.where(integer), errors="coerce")
    bad = ~integer | numbers.isna() | (numbers.abs() > INT64_MAX)
    if bad.any():
        raise RecbenchError(f"{file}: {column} id {text[bad].iloc[0]!r} is not an integer that fits int64, but "
                            f"{setting}.ids=integer: set {setting}.ids=auto to keep ids as written")
    return pd.Series(text.map(int).to_numpy(np.int64)[codes], index=values.index)


def _line_of(row: int, header: bool) -> int:
    """1-based line number in the file of data row ``row`` (0-based)."""
    return row + 1 + int(header)


def standardise(frame: pd.DataFrame, file: Path | str, mapping: dict[str, str | int], header: bool,
                timestamp_unit: str | None = "s", optional: tuple[str, ...] = (),
                available: list | None = None, ids: str = "auto",
                setting: str = DEFAULT_SETTING) -> pd.DataFrame:
    """Rename the mapped columns to the standard names and check their values.

    Args:
        frame: what the reader read, with columns named as in the file (or numbered).
        file: the file, for messages.
        mapping: ``{standard name: file column}``.
        header: whether the file's first line is a header (for line numbers).
        timestamp_unit: ``s``/``ms``/``us``/``ns`` for numeric epochs, ``datetime`` for date strings,
            or None to drop timestamps.
        optional: standard names that are left out when the file lacks them.
        available: the file's columns, for the message (default: ``frame.columns``).
        ids: how user and item ids are read (see :func:`standard_ids`).
        setting: the config key holding the reader's options, named in messages.

    Raises:
        RecbenchError: missing column, non-numeric, empty, NaN or infinite rating or timestamp,
            missing user or item.
    """
    mapping = {name: source for name, source in mapping.items()
               if source in frame.columns or name not in optional}
    missing = [f"{name}={source!r}" for name, source in mapping.items() if source not in frame.columns]
    if missing:
        found = [str(c) for c in (frame.columns if available is None else available)]
        raise RecbenchError(
            f"{file}: column(s) {', '.join(missing)} not found; the file has columns {found}. "
            f"Set {setting}.columns (and {setting}.sep / header) to match the file")
    out = pd.DataFrame({name: frame[source] for name, source in mapping.items()})
    if timestamp_unit is None and TIMESTAMP in out:
        out = out.drop(columns=TIMESTAMP)
    for column in (RATING, TIMESTAMP):
        if column not in out or pd.api.types.is_numeric_dtype(out[column]):
            continue
        if column == TIMESTAMP and timestamp_unit == "datetime":
            continue
        numeric = pd.to_numeric(out[column], errors="coerce")
        bad = numeric.isna() & out[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise RecbenchError(
                f"{file}, line {_line_of(row, header)}: column {mapping[column]!r} ({column}) holds "
                f"{out[column].iloc[row]!r}, which is not a number. Fix or remove that line, or map "
                f"{column} to another column in {setting}.columns")
        out[column] = numeric
    absent = out[[USER, ITEM]].isna().any(axis=1).to_numpy()
    for column in (USER, ITEM):
        if out[column].dtype == object:  # a blank id ("  ") is as empty as a missing one
            codes, uniques = pd.factorize(out[column])
            blank = pd.Series(uniques).astype(str).str.strip().eq("").to_numpy()
            absent |= (codes >= 0) & blank[np.maximum(codes, 0)]
    if absent.any():
        row = int(np.flatnonzero(absent)[0])
        raise RecbenchError(f"{file}, line {_line_of(row, header)}: the user or item is empty. "
                            "Fix or remove that line")
    for column in (USER, ITEM):
        out[column] = standard_ids(out[column], file, column, ids, setting)
    if RATING in out:
        # An empty, NaN or infinite rating has no meaning, and comparisons with it (min_rating)
        # silently drop its row: refuse it where the file can still be named.
        bad = ~np.isfinite(out[RATING].to_numpy(np.float64))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RecbenchError(
                f"{file}, line {_line_of(row, header)}: {int(bad.sum())} rating(s) are empty, NaN or infinite "
                f"(the first: {out[RATING].iloc[row]!r}). Fix or remove those lines, or set "
                f"{setting}.columns.rating to null to read the file as implicit feedback")
    if TIMESTAMP in out:
        out[TIMESTAMP] = _to_seconds(out[TIMESTAMP], file, timestamp_unit, setting)
    if RATING in out:
        out[RATING] = out[RATING].astype(np.float32)
    return out


def _to_seconds(values: pd.Series, file, unit: str, setting: str = DEFAULT_SETTING) -> pd.Series:
    """Timestamps as int64 seconds since the epoch."""
    if unit == "datetime":
        try:
            parsed = pd.to_datetime(values, utc=True, format="ISO8601")
        except (ValueError, TypeError) as error:
            raise RecbenchError(f"{file}: timestamps could not be parsed as ISO 8601 dates ({error}). "
                                f"Set {setting}.timestamp_unit to s/ms/us/ns for numbers") from None
        # pandas picks the datetime resolution itself, so count seconds rather than reinterpret.
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        return seconds.astype(np.int64)
    if unit not in TIMESTAMP_UNITS:
        raise RecbenchError(f"{setting}.timestamp_unit must be one of {[*TIMESTAMP_UNITS, 'datetime']} "
                            f"or null, got {unit!r}")
    bad = ~np.isfinite(values.to_numpy(np.float64))
    if bad.any():
        raise RecbenchError(f"{file}: {int(bad.sum())} timestamp(s) are empty, NaN or infinite. Fix them, or set "
                            f"{setting}.timestamp_unit=null to ignore timestamps")
    return (values.astype(np.int64) // TIMESTAMP_UNITS[unit]).astype(np.int64)


def read_delimited(file: str | Path, folder: str | Path | None = None, sep: str = ",", header: bool = True,
                   columns=None, timestamp_unit: str | None = "s", encoding: str = "utf-8",
                   skipinitialspace: bool = False, ids: str = "auto",
                   setting: str = DEFAULT_SETTING) -> pd.DataFrame:
    """Read a CSV/TSV (any separator, including MovieLens' ``::``) into the standard frame.

    Args:
        file: the file, relative to ``folder`` (or absolute).
        folder: the dataset folder.
        sep: the field separator (``tab`` or ``\\t`` for a tab).
        header: whether the first line names the columns.
        columns: which file column is which (see the module docstring).
        timestamp_unit: unit of numeric timestamps (``s``, ``ms``, ``us``, ``ns``), ``datetime`` for
            date strings, or null to ignore them.
        encoding: the file's text encoding.
        skipinitialspace: skip spaces after each separator (``a, b, c``).
        ids: ``auto``, ``string`` or ``integer`` (see :func:`standard_ids`).
        setting: the config key holding these options, named in messages.
    """
    path = Path(folder or ".") / file
    sep = separator(sep, setting)
    mapping = _column_map(columns, header, setting)
    options = dict(encoding=encoding, skipinitialspace=skipinitialspace, engine="c")
    if sep == "::":
        # The C parser takes one-character separators only; on ':' every '::' leaves an empty
        # field between two real ones, so real field i sits at position 2i. 10x faster than the
        # python engine on MovieLens' ratings.dat, whose fields never contain ':'.
        if header:
            raise RecbenchError(f"{path}: {setting}.sep='::' is supported for files without a header only")
        mapping = {name: 2 * position for name, position in mapping.items()}
        sep = ":"
    usecols = sorted(set(mapping.values()), key=str)
    try:
        if header:
            available = list(pd.read_csv(path, sep=sep, nrows=0, **options).columns)
            mapping = _by_position(mapping, available)
            usecols = list(set(mapping.values()))
        else:
            available = list(range(len(pd.read_csv(path, sep=sep, header=None, nrows=1, **options).columns)))
        # Ids are read as text, so that '007' is not turned into 7 before standard_ids decides.
        text_ids = {mapping[name]: str for name in (USER, ITEM) if mapping.get(name) in available}
        frame = pd.read_csv(path, sep=sep, header=0 if header else None,
                            usecols=[c for c in usecols if c in available], dtype=text_ids, **options)
    except FileNotFoundError:
        raise RecbenchError(f"{path} does not exist: check {_file_hint(setting)}") from None
    except pd.errors.EmptyDataError:
        raise RecbenchError(f"{path} is empty: it holds no interactions") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise RecbenchError(f"could not parse {path}: {error}. Check {setting}.sep, {setting}.header and "
                            f"{setting}.encoding") from None
    return standardise(frame, path, mapping, header, timestamp_unit, _optional(columns), available, ids, setting)


def read_parquet(file: str | Path, folder: str | Path | None = None, columns=None,
                 timestamp_unit: str | None = "s", ids: str = "auto",
                 setting: str = DEFAULT_SETTING) -> pd.DataFrame:
    """Read a Parquet file into the standard frame (``columns`` maps names as for CSV)."""
    path = Path(folder or ".") / file
    mapping = _column_map(columns, True, setting)
    try:
        frame = pd.read_parquet(path)
        mapping = _by_position(mapping, list(frame.columns))
    except FileNotFoundError:
        raise RecbenchError(f"{path} does not exist: check {_file_hint(setting)}") from None
    except (OSError, ValueError) as error:
        raise RecbenchError(f"could not read {path} as Parquet: {error}") from None
    return standardise(frame, path, mapping, True, timestamp_unit, _optional(columns), ids=ids, setting=setting)


def read_json_lines(file: str | Path, folder: str | Path | None = None, columns=None,
                    timestamp_unit: str | None = "s", ids: str = "auto",
                    setting: str = DEFAULT_SETTING) -> pd.DataFrame:
    """Read JSON lines (optionally ``.gz``), e.g. the Amazon 2014 review files."""
    path = Path(folder or ".") / file
    mapping = _column_map(columns, True, setting)
    try:
        frame = pd.read_json(path, lines=True, compression="infer", dtype=False)
        mapping = _by_position(mapping, list(frame.columns))
    except FileNotFoundError:
        raise RecbenchError(f"{path} does not exist: check {_file_hint(setting)}") from None
    except ValueError as error:
        raise RecbenchError(f"could not read {path} as JSON lines: {error}. Ids beyond int64 must be written "
                            "as JSON strings") from None
    return standardise(frame, path, mapping, False, timestamp_unit, _optional(columns), ids=ids, setting=setting)


def format_of(file: str | Path) -> str:
    """``parquet``, ``json`` or ``delimited``, from the file name."""
    name = str(file).lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".json", ".jsonl")):
        return "json"
    return "delimited"


def read_interactions(file: str | Path, folder: str | Path | None = None, format: str = "auto",
                      **options) -> pd.DataFrame:
    """Read an interaction file with the reader for its format.

    Args:
        file: the file, relative to ``folder`` (or absolute).
        folder: the dataset folder (given by dataset resolution).
        format: ``auto`` (from the extension), ``delimited``, ``parquet`` or ``json``.
        **options: the reader's options (``sep``, ``header``, ``columns``, ``timestamp_unit``...).
    """
    kind = format_of(file) if format == "auto" else format
    readers = {"delimited": read_delimited, "parquet": read_parquet, "json": read_json_lines}
    if kind not in readers:
        raise RecbenchError(f"{options.get('setting', DEFAULT_SETTING)}.format must be auto, "
                            f"{', '.join(readers)}; got {format!r}")
    if kind != "delimited":
        options = {k: v for k, v in options.items() if k in ("columns", "timestamp_unit", "ids", "setting")}
    return readers[kind](file, folder=folder, **options)


def read_first(candidates: Sequence[Mapping], folder: str | Path | None = None) -> pd.DataFrame:
    """Read the first of several accepted layouts whose file exists in ``folder``.

    A catalog entry lists more than one layout when the same data circulates in more than one
    form (the official JSON and a CSV projection of it, say).

    Args:
        candidates: each a mapping of :func:`read_interactions` arguments, with ``file``.
        folder: the dataset folder.
    """
    base = Path(folder or ".")
    for candidate in candidates:
        candidate = dict(candidate)
        if (base / candidate["file"]).is_file():
            return read_interactions(folder=base, **candidate)
    names = [c["file"] for c in candidates]
    raise RecbenchError(f"none of {names} is in {base}: put one of them there")
