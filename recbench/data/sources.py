"""Where dataset files are found, and the readers for the built-in datasets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recbench.data.download import fetch
from recbench.data.readers import read_delimited
from recbench.errors import RecbenchError

DATA_DIR_ENV = "RECBENCH_DATA_DIR"


DEFAULT_CACHE_DIR = "~/.cache/recbench"


def _present(folder: Path, files: Sequence[str | Sequence[str]]) -> bool:
    """Whether ``folder`` holds every required file (an inner list: any one of those names)."""
    return all(any((folder / name).is_file() for name in ([entry] if isinstance(entry, str) else entry))
               for entry in files)


def _missing(folder: Path, files: Sequence[str | Sequence[str]]) -> str:
    """The required files ``folder`` lacks, for messages."""
    return _describe([entry for entry in files if not _present(folder, [entry])])


def _describe(files: Sequence[str | Sequence[str]]) -> str:
    return ", ".join(entry if isinstance(entry, str) else " or ".join(entry) for entry in files)


def locate_dataset(name: str, files: Sequence[str | Sequence[str]], path: str | None = None,
                   cache_dir: str | None = None, url: str | None = None, sha256: str | None = None,
                   archive_root: str | None = None, download: bool = True) -> Path:
    """The folder holding dataset ``name``, downloading it when no copy is found.

    Looks in order at ``path``, ``$RECBENCH_DATA_DIR/<name>``, ``<cache_dir>/<name>``; then, when
    ``url`` is known and ``download`` is on, downloads into ``<cache_dir>/<name>`` (verified by
    ``sha256``, see :mod:`recbench.data.download`).

    Args:
        name: the dataset's name (its folder name).
        files: the files a complete copy holds; an inner list means any one of those names.
        path: a folder given by the user (``dataset.path``).
        cache_dir: the cache folder (``paths.cache_dir``); ``~/.cache/recbench`` when None.
        url, sha256, archive_root: where to download it from (see :func:`~recbench.data.download.fetch`).
        download: whether a missing dataset may be downloaded.

    Raises:
        RecbenchError: naming the folders searched, the files to put there, and why the download
            (if any) failed.
    """
    cache = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser()
    if path:
        # A folder the user named is the one they mean: finding another copy elsewhere would
        # silently train on different data.
        folder = Path(path).expanduser()
        if not _present(folder, files):
            state = "does not exist" if not folder.is_dir() else f"lacks {_missing(folder, files)}"
            raise RecbenchError(f"dataset.path {str(folder)!r} {state}: point dataset.path at the folder holding "
                                f"{_describe(files)}, or set dataset.path=null to search ${DATA_DIR_ENV} and the cache")
        return folder
    candidates = []
    if os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]).expanduser() / name)
    candidates.append(cache / name)
    for folder in candidates:
        if _present(folder, files):
            return folder
    reason = "no download url is known for it" if not url else "downloads are off (dataset.download=false)"
    if url and download:
        try:
            folder = fetch(url, sha256, cache / name, cache / "downloads", archive_root)
        except RecbenchError as error:
            reason = f"the download failed: {error}"
        else:
            if _present(folder, files):
                return folder
            reason = f"the downloaded archive lacks {_describe(files)}: fix dataset.files or dataset.archive_root"
    searched = ", ".join(str(c) for c in candidates)
    raise RecbenchError(
        f"dataset {name!r} not found: searched {searched}, and {reason}. Put {_describe(files)} into "
        f"${DATA_DIR_ENV}/{name} or {cache / name}, or pass dataset.path=/folder/with/the/files")


def find_dataset_dir(name: str, path: str | None, required: list[str]) -> Path:
    """The folder holding dataset ``name``: ``path`` if given, else ``$RECBENCH_DATA_DIR/<name>``.

    Kept for callers of the first version; :func:`locate_dataset` also looks in the cache and
    downloads.
    """
    return locate_dataset(name, required, path=path, download=False)


def read_ml100k(path: str | None = None, folder: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens-100K: ``u.data`` (user, item, rating, timestamp) and ``u.item`` titles/genres.

    Args:
        path: a folder with the files (the first version's ``dataset.source.path``).
        folder: the folder found by dataset resolution (takes precedence).

    Returns:
        ``(interactions, items)`` with items indexed by item id, columns ``title`` and ``genres``
        (a ``|``-joined list of genre names).
    """
    folder = Path(folder) if folder else find_dataset_dir("ml-100k", path, ["u.data", "u.item", "u.genre"])
    interactions = read_table(folder / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    genres = pd.read_csv(folder / "u.genre", sep="|", header=None, names=["name", "id"],
                         encoding="latin-1").dropna()["name"].tolist()
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                        names=["item", "title", "release", "video_release", "url", *genres])
    flags = items[genres].to_numpy(bool)
    items["genres"] = ["|".join(g for g, on in zip(genres, row) if on) for row in flags]
    return interactions, items.set_index("item")[["title", "genres"]]


def read_table(file: Path, sep: str, names: list[str], header: int | None = None) -> pd.DataFrame:
    """Read a delimited interaction file whose columns are ``names`` in order (see :func:`read_delimited`).

    Raises:
        RecbenchError: naming the file, the column and the first bad line.
    """
    return read_delimited(file, sep=sep, header=header is not None, columns=names)
