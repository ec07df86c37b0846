"""A finished run, loaded back for inference: its config, data, split and tested weights.

Nothing is retrained: the model is rebuilt from the run's saved config and its state_dict is read
with ``torch.load(..., weights_only=True)`` (a checkpoint is untrusted input). Lightning is never
imported, so `recbench recommend` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recbench.errors import RecbenchError, require

from recbench.record import SCHEMA_VERSION, RecordError, RunRecord
from recbench.results import MODEL_CHECKPOINT, RESULTS_FILE


@dataclass
class LoadedRun:
    """A trained model with the data it was trained on.

    Attributes:
        model: the plugin with the tested weights, in eval mode, on the CPU.
        model_name: ``ease``, ``mf``...
        item_ids: original item id of each item index ``[n_items]``.
        user_ids: original user id of each user index ``[n_users]``.
        known: every interaction known at test time, CSR ``[n_users, n_items]`` (filtered from lists).
        titles: title of each item index, or None when the dataset has none.
    """

    model: object
    model_name: str
    item_ids: np.ndarray
    user_ids: np.ndarray
    known: sp.csr_matrix
    titles: np.ndarray | None


def read_record(run_dir: Path) -> RunRecord:
    """The run's record, checked for the schema version this recbench writes."""
    file = run_dir / RESULTS_FILE
    require(run_dir.is_dir(), f"run folder {run_dir} does not exist: pass a folder written by `python run.py`")
    require(file.is_file(), f"{run_dir} has no {RESULTS_FILE}: the run did not finish, or this is not a run folder")
    try:
        record = RunRecord.load(file)
    except RecordError as error:
        raise RecbenchError(f"{file} cannot be read ({error}): the run folder is damaged") from None
    require(record.schema_version == SCHEMA_VERSION,
            f"{file} has schema version {record.schema_version!r}, but this recbench reads {SCHEMA_VERSION}: "
            "rerun the experiment with this version of recbench")
    require(bool(record.config), f"{file} has no resolved config: rerun the experiment")
    return record


def checkpoint_path(run_dir: Path, record: RunRecord) -> Path:
    """The saved weights, which must lie inside the run folder."""
    relative = record.artifacts.get("checkpoint") or MODEL_CHECKPOINT
    path = (run_dir / relative).resolve()
    require(path.is_relative_to(run_dir.resolve()),
            f"{run_dir / RESULTS_FILE} names a checkpoint outside the run folder ({relative}): refusing to read it")
    require(path.is_file(), f"{run_dir} has no checkpoint ({relative}): it was written by an older recbench "
                            "that did not save weights; rerun the experiment to recommend from it")
    return path


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild the run's model with its tested weights, and its data and split (from the cache)."""
    import torch
    from omegaconf import OmegaConf

    from recbench.config import build
    from recbench.data.feature_needs import attach_features, model_feature_kwargs, plugin_node
    from recbench.data.loading import load_dataset
    from recbench.data.split_cache import cached_split
    from recbench.plugin import model_name

    run_dir = Path(run_dir)
    record = read_record(run_dir)
    weights_file = checkpoint_path(run_dir, record)
    cfg = OmegaConf.create(record.config)
    cache_dir = cfg.paths.get("cache_dir")
    data = load_dataset(cfg.dataset, cache_dir=cache_dir)
    data, _ = attach_features(cfg.dataset, data, cfg.model, cfg.get("encoder"), cache_dir)
    fingerprint = record.fingerprint
    require(fingerprint in (None, data.fingerprint()),
            f"the dataset {cfg.dataset.name!r} on this machine differs from the one the run trained on "
            f"(fingerprint {data.fingerprint()} vs {fingerprint}): point dataset.path at the same files")
    split, _ = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed), cache_dir=cache_dir)
    model = build(plugin_node(cfg.model), "model", n_users=data.n_users, n_items=data.n_items,
                  **model_feature_kwargs(cfg.model, data, cfg.dataset.name))
    try:
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # a foreign, damaged or mismatched file: one message, no traceback
        raise RecbenchError(f"could not load {weights_file} into {type(model).__name__} ({error}); the "
                            "checkpoint is damaged or from an incompatible version: rerun the experiment") from None
    if hasattr(model, "eval"):
        model.eval()
    titles = None
    if data.item_info is not None and "title" in data.item_info:
        titles = data.item_info["title"].fillna("").astype(str).to_numpy()
    return LoadedRun(model, model_name(cfg.model._target_), data.item_ids, data.user_ids,
                     split.test_history, titles)
