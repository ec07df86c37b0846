"""From a dataset config to encoded :class:`Interactions`."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from recbench.config import build
from recbench.data.interactions import Interactions
from recbench.data.preprocess import preprocess
from recbench.data.sources import locate_dataset

log = logging.getLogger(__name__)


def dataset_files(dataset: DictConfig) -> list:
    """The files a complete copy of the dataset holds (empty for generated data).

    ``dataset.files`` when given (an inner list means any one of those names), else the
    source's own ``file``.
    """
    if dataset.get("files"):
        return OmegaConf.to_container(dataset.files, resolve=True)
    source_file = dataset.source.get("file") if "source" in dataset else None
    return [str(source_file)] if source_file else []


def dataset_folder(dataset: DictConfig, cache_dir: str | None = None) -> Path | None:
    """Where the dataset's files are (found or downloaded), or None for generated data."""
    files = dataset_files(dataset)
    if not files:
        return None
    path = dataset.get("path") or dataset.source.get("path")  # source.path: the first version's key
    return locate_dataset(dataset.name, files, path=path, cache_dir=cache_dir,
                          url=dataset.get("url"), sha256=dataset.get("sha256"),
                          archive_root=dataset.get("archive_root"), download=dataset.get("download", True))


def load_dataset(dataset: DictConfig, cache_dir: str | None = None) -> Interactions:
    """Read the dataset described by ``dataset`` (the ``dataset`` config group) and preprocess it.

    The files are looked for in ``dataset.path``, ``$RECBENCH_DATA_DIR/<name>``, then
    ``<cache_dir>/<name>``, and downloaded when missing (see :func:`locate_dataset`).
    ``dataset.source`` is instantiated (with ``folder=`` the folder found, for file datasets);
    it returns an interaction frame (columns user, item, rating, timestamp) or ``(frame, item_info)``.

    Args:
        dataset: the dataset config.
        cache_dir: the cache folder (``paths.cache_dir``); ``~/.cache/recbench`` when None.
    """
    folder = dataset_folder(dataset, cache_dir)
    kwargs = {"folder": str(folder)} if folder is not None else {}
    loaded = build(dataset.source, "dataset", **kwargs)
    frame, item_info = loaded if isinstance(loaded, tuple) else (loaded, None)
    log.info("dataset %s: read %d interactions%s", dataset.name, len(frame), f" from {folder}" if folder else "")
    frame = preprocess(frame, **dataset.get("preprocess", {}))
    return Interactions.from_frame(frame, item_info)
