"""Where dataset files are found, and the readers for the built-in datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from recbench.errors import RecbenchError

DATA_DIR_ENV = "RECBENCH_DATA_DIR"


def find_dataset_dir(name: str, path: str | None, required: list[str]) -> Path:
    """The folder holding dataset ``name``: ``path`` if given, else ``$RECBENCH_DATA_DIR/<name>``.

    Raises:
        RecbenchError: naming the folders searched and the files to put there.
    """
    candidates = [Path(path).expanduser()] if path else []
    if os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]).expanduser() / name)
    for folder in candidates:
        if all((folder / file).is_file() for file in required):
            return folder
    searched = ", ".join(str(c) for c in candidates) or f"nothing (${DATA_DIR_ENV} is not set)"
    raise RecbenchError(
        f"dataset {name!r} not found: searched {searched}. Put {', '.join(required)} into "
        f"${DATA_DIR_ENV}/{name} or set dataset.source.path=/folder/with/the/files"
    )


def read_ml100k(path: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens-100K: ``u.data`` (user, item, rating, timestamp) and ``u.item`` titles/genres.

    Returns:
        ``(interactions, items)`` with items indexed by item id, columns ``title`` and ``genres``
        (a ``|``-joined list of genre names).
    """
    folder = find_dataset_dir("ml-100k", path, ["u.data", "u.item"])
    interactions = read_table(folder / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    genres = pd.read_csv(folder / "u.genre", sep="|", header=None, names=["name", "id"],
                         encoding="latin-1").dropna()["name"].tolist()
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                        names=["item", "title", "release", "video_release", "url", *genres])
    flags = items[genres].to_numpy(bool)
    items["genres"] = ["|".join(g for g, on in zip(genres, row) if on) for row in flags]
    return interactions, items.set_index("item")[["title", "genres"]]


def read_table(file: Path, sep: str, names: list[str], header: int | None = None) -> pd.DataFrame:
    """Read a delimited interaction file and check that user/item/rating/timestamp are usable.

    Raises:
        RecbenchError: naming the file, the column and the first bad line.
    """
    try:
        frame = pd.read_csv(file, sep=sep, names=names, header=header, engine="c")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise RecbenchError(f"could not parse {file}: {error}. Check the separator and column count") from error
    for column in ("rating", "timestamp"):
        if column in frame:
            numeric = pd.to_numeric(frame[column], errors="coerce")
            bad = numeric.isna() & frame[column].notna()
            if bad.any():
                line = int(bad.to_numpy().nonzero()[0][0]) + 1 + (0 if header is None else header + 1)
                raise RecbenchError(
                    f"{file}, line {line}: column {column!r} holds {frame[column][bad].iloc[0]!r}, "
                    f"which is not a number. Fix or remove that line")
            frame[column] = numeric
    missing = frame[["user", "item"]].isna().any(axis=1)
    if missing.any():
        line = int(missing.to_numpy().nonzero()[0][0]) + 1 + (0 if header is None else header + 1)
        raise RecbenchError(f"{file}, line {line}: user or item is missing. Fix or remove that line")
    return frame
