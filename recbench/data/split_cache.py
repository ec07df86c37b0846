"""Splits stored as Parquet in the cache, so the next run with the same inputs reuses them."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from recbench.config import build
from recbench.data.interactions import Interactions, SplitData
from recbench.results import write_parquet

log = logging.getLogger(__name__)
SPLIT_CACHE_VERSION = 1  # bump when a protocol's output changes for the same config


def split_fingerprint(data: Interactions, split_cfg: DictConfig, seed: int) -> str:
    """sha256 (24 hex digits) of what determines a split.

    The data's fingerprint hashes the interactions after preprocessing, so it changes with the
    data files and with the preprocessing config; the split config and seed complete the key.
    """
    config = OmegaConf.to_container(split_cfg, resolve=True)
    payload = json.dumps({"data": data.fingerprint(), "split": config, "seed": seed,
                          "version": SPLIT_CACHE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def cached_split(split_cfg: DictConfig, data: Interactions, seed: int,
                 cache_dir: str | None) -> tuple[SplitData, Path | None]:
    """Build the split, or read it from ``<cache_dir>/splits/<fingerprint>.parquet``.

    The cache file holds one ``role`` per interaction (int8). It is written atomically, so a run
    that dies while writing leaves no file a later run could misread.

    Returns:
        ``(split, cache_file)``; ``cache_file`` is None when the split is not cached (no cache
        folder, a protocol that reads its split from files, or a cache folder that cannot be written).
    """
    splitter = build(split_cfg, "split")
    if cache_dir is None or not getattr(splitter, "cacheable", True):
        return splitter(data, seed=seed), None
    path = Path(cache_dir).expanduser() / "splits" / f"{split_fingerprint(data, split_cfg, seed)}.parquet"
    if path.is_file():
        roles = pd.read_parquet(path)["role"].to_numpy(np.int8)
        if len(roles) == len(data):
            log.info("split read from the cache: %s", path)
            return SplitData(data, roles, getattr(splitter, "candidates", "all")), path
        log.warning("ignoring %s: it has %d roles for %d interactions", path, len(roles), len(data))
    split = splitter(data, seed=seed)
    try:
        write_parquet(path, pd.DataFrame({"role": split.roles}))
    except OSError as error:
        log.warning("could not cache the split in %s (%s); continuing without the cache", path, error)
        return split, None
    log.info("split cached in %s", path)
    return split, path
