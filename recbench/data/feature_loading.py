"""From a dataset's ``features`` section to :class:`FeatureMatrix` objects on its interactions.

Feature matrices are cached like splits: ``<cache_dir>/features/<key>.npz``, keyed by the field
specs, the bytes of every file they read, the dataset's ids and the text encoder (name, version
and parameters). A cached matrix is read without building the encoder, so a second run encodes
nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

from recbench.config import build
from recbench.data.encoders import encode_cached, encoder_key, save_arrays
from recbench.data.feature_files import read_fields
from recbench.data.features import FeatureMatrix, FieldInfo, build_feature_matrix
from recbench.data.interactions import Interactions
from recbench.errors import RecbenchError, require
from recbench.plugin import FEATURE_FIELD_KEYS, FeatureTensors, feature_sides, model_name

log = logging.getLogger(__name__)
FEATURE_CACHE_VERSION = 2  # bump when the matrices built from the same inputs change
SIDES = ("item", "user")


def declared_features(dataset: DictConfig) -> dict[str, dict]:
    """``{side: {field: spec}}`` of the sides the dataset config declares (empty sides left out)."""
    section = dataset.get("features") or {}
    specs = OmegaConf.to_container(section, resolve=True) if OmegaConf.is_config(section) else dict(section)
    unknown = sorted(set(specs) - set(SIDES))
    require(not unknown, f"dataset.features has unknown key(s) {unknown}: use item and user")
    return {side: specs[side] for side in SIDES if specs.get(side)}


def _files_read(specs: dict) -> list[str]:
    """Every file named by the specs (lookups included), in a stable order."""
    files = []
    for spec in specs.values():
        if spec.get("file"):
            files.append(spec["file"])
        if isinstance(spec.get("lookup"), dict) and spec["lookup"].get("file"):
            files.append(spec["lookup"]["file"])
    return sorted(set(files))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise RecbenchError(f"feature file {path} does not exist: check the feature's file "
                            "(relative to the dataset folder)") from None
    return digest.hexdigest()


def _cache_key(side: str, specs: dict, folder: Path, ids: np.ndarray, encoder) -> str:
    has_text = any(spec.get("kind") == "text" for spec in specs.values())
    payload = {
        "version": FEATURE_CACHE_VERSION, "side": side, "specs": specs,
        "files": {name: _sha256(folder / name) for name in _files_read(specs)},
        "ids": hashlib.sha256("\x1f".join(map(str, ids)).encode()).hexdigest(),
        "encoder": encoder_key(encoder) if has_text and encoder is not None else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _save(path: Path, matrix: FeatureMatrix) -> None:
    layout = json.dumps([[name, info.kind, info.columns.start, info.columns.stop, info.coverage, info.labels]
                         for name, info in matrix.fields.items()])
    masks = np.stack([info.mask for info in matrix.fields.values()])
    save_arrays(path, values=matrix.values, mask=matrix.mask, field_masks=masks, layout=np.array(layout))


def _load(path: Path) -> FeatureMatrix:
    with np.load(path, allow_pickle=False) as archive:
        values, mask, masks = archive["values"], archive["mask"], archive["field_masks"]
        layout = json.loads(str(archive["layout"]))
    fields = {name: FieldInfo(kind, slice(start, stop), coverage, masks[row], tuple(labels))
              for row, (name, kind, start, stop, coverage, labels) in enumerate(layout)}
    return FeatureMatrix(values, mask, fields)


def _matrix(side: str, specs: dict, folder: Path, ids: np.ndarray, encoder, cache_dir) -> FeatureMatrix:
    path = None
    if cache_dir is not None:
        path = Path(cache_dir).expanduser() / "features" / f"{_cache_key(side, specs, folder, ids, encoder)}.npz"
        if path.is_file():
            try:
                matrix = _load(path)
            except (OSError, ValueError, KeyError) as error:  # written by another version: rebuild it
                log.warning("ignoring the feature cache %s (%s)", path, error)
            else:
                log.info("%s features read from the cache: %s", side, path)
                return matrix

    def encode_text(texts: list[str]) -> np.ndarray:
        vectors, n_encoded = encode_cached(encoder, texts, cache_dir)
        log.info("%s text features: %d text(s), %d encoded now with %s", side, len(texts), n_encoded, encoder.name)
        return vectors

    matrix = build_feature_matrix(read_fields(specs, folder, side), ids, side,
                                  encode_text if encoder is not None else None)
    if path is not None:
        try:
            _save(path, matrix)
        except OSError as error:
            log.warning("could not cache %s features in %s (%s)", side, path, error)
    return matrix


@dataclasses.dataclass(frozen=True)
class EncoderRecord:
    """Which text encoder produced a run's text features (for results.json)."""

    name: str
    version: str
    params: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def build_encoder(encoder_cfg: DictConfig | None):
    """The text encoder of ``encoder=`` (None when the config has none)."""
    if encoder_cfg is None:
        return None
    return build(encoder_cfg, "encoder")


def load_features(dataset: DictConfig, data: Interactions, folder: Path | None, encoder=None,
                  cache_dir: str | None = None, sides: tuple[str, ...] = SIDES
                  ) -> tuple[Interactions, EncoderRecord | None]:
    """``data`` with ``item_features`` / ``user_features`` from the dataset's ``features`` section.

    Args:
        dataset: the dataset config.
        data: the encoded interactions (their ids define the rows).
        folder: the dataset folder feature files are relative to (None: the working directory).
        encoder: the text encoder (from :func:`build_encoder`); needed when a text field exists.
        cache_dir: the cache folder; None builds the matrices without caching.
        sides: which sides to load.

    Returns:
        ``(data with features, the encoder record or None when no text field was encoded)``.
    """
    declared = declared_features(dataset)
    folder = Path(folder) if folder is not None else Path(".")
    matrices, used_text = {}, False
    for side in sides:
        if side not in declared:
            continue
        ids = data.item_ids if side == "item" else data.user_ids
        matrices[f"{side}_features"] = _matrix(side, declared[side], folder, ids, encoder, cache_dir)
        used_text |= any(spec.get("kind") == "text" for spec in declared[side].values())
        for name, kind, dim, coverage in matrices[f"{side}_features"].describe():
            log.info("%s feature %s: %s, dimension %d, coverage %.1f%%", side, name, kind, dim, 100 * coverage)
    record = EncoderRecord(encoder.name, encoder.version, dict(encoder.params)) if used_text and encoder else None
    return dataclasses.replace(data, **matrices), record


def attach_features(dataset: DictConfig, data: Interactions, sides, encoder_cfg: DictConfig | None,
                    cache_dir: str | None) -> tuple[Interactions, EncoderRecord | None]:
    """Load the features of ``sides`` (those the model or split needs) when the dataset declares any.

    Args:
        dataset: the dataset config.
        data: the interactions.
        sides: the sides wanted (``item``, ``user``); an empty collection loads nothing.
        encoder_cfg: the ``encoder`` config (text fields).
        cache_dir: ``paths.cache_dir``.
    """
    from recbench.data.loading import dataset_folder  # loading imports nothing from here

    sides = tuple(side for side in SIDES if side in set(sides) and side in declared_features(dataset))
    if not sides:
        return data, None
    encoder = build_encoder(encoder_cfg)
    return load_features(dataset, data, dataset_folder(dataset, cache_dir), encoder, cache_dir, sides)


def require_features(data: Interactions, side: str, fields, who: str, dataset_name: str) -> FeatureMatrix:
    """The ``side`` features restricted to ``fields``, or a message naming what is missing.

    Args:
        data: the interactions with features loaded.
        side: ``item`` or ``user``.
        fields: the field names wanted (None: all).
        who: what needs them, for the message (``model contentknn``, ``split cold_items``).
        dataset_name: the dataset's name, for the message.
    """
    matrix = data.item_features if side == "item" else data.user_features
    require(matrix is not None,
            f"{who} needs {side} features, but dataset {dataset_name!r} has none: declare "
            f"dataset.features.{side} (see docs/side_information.md) or use a dataset that has them")
    return matrix.select(None if fields is None else list(fields))


def model_class(model_cfg: DictConfig) -> type:
    """The plugin class a model config builds (a readable message when it cannot be imported)."""
    try:
        return get_class(model_cfg._target_)
    except Exception as error:  # hydra wraps import failures in several exception types
        raise RecbenchError(f"model._target_ {model_cfg.get('_target_')!r} cannot be imported: {error}") from None


def model_feature_sides(model_cfg: DictConfig) -> tuple[str, ...]:
    """Which sides' features the configured model takes (empty for plugins without features)."""
    return feature_sides(model_class(model_cfg), model_cfg.get("use_features"))


def split_feature_sides(split_cfg: DictConfig) -> tuple[str, ...]:
    """Which sides' features a split protocol needs (its class attribute ``needs_features``)."""
    return tuple(getattr(model_class(split_cfg), "needs_features", ()))


def check_feature_config(model_cfg: DictConfig, split_cfg: DictConfig, dataset: DictConfig,
                         model_label: str | None = None, split_label: str | None = None) -> set[str]:
    """Before any data is read: the sides the model and split need are declared by the dataset.

    ``model_label`` / ``split_label`` are the names the user typed (``model=contentknn``), for messages.

    Returns:
        The sides to load.

    Raises:
        RecbenchError: naming the model or split, the dataset and the missing side or fields.
    """
    declared = declared_features(dataset)
    model_label = model_label or model_name(model_cfg._target_)
    split_label = split_label or split_cfg._target_.rsplit(".", 1)[-1]
    needs = [(f"model {model_label!r}", side) for side in model_feature_sides(model_cfg)]
    needs += [(f"split {split_label!r}", side) for side in split_feature_sides(split_cfg)]
    for who, side in needs:
        require(side in declared,
                f"{who} needs {side} features, but dataset {dataset.name!r} declares none: add "
                f"dataset.features.{side} (see docs/side_information.md) or choose a dataset that has them")
    for side in model_feature_sides(model_cfg):
        wanted = model_cfg.get(f"{side}_fields")
        if wanted is not None:
            known = [name for name, spec in declared[side].items() if spec.get("keep", True)]
            unknown = [name for name in wanted if name not in known]
            require(not unknown, f"model.{side}_fields names {unknown}, which dataset {dataset.name!r} does not "
                                 f"have: choose from {known} (null uses all)")
    return {side for _, side in needs}


def model_feature_kwargs(model_cfg: DictConfig, data: Interactions, dataset_name: str) -> dict[str, FeatureTensors]:
    """``item_features=`` / ``user_features=`` for the model's constructor, after ``*_fields`` selection.

    Raises:
        RecbenchError: the model needs features the dataset does not have, naming both.
    """
    kwargs = {}
    for side in model_feature_sides(model_cfg):
        who = f"model {model_name(model_cfg._target_)!r}"
        matrix = require_features(data, side, model_cfg.get(f"{side}_fields"), who, dataset_name)
        kwargs[f"{side}_features"] = FeatureTensors(torch.from_numpy(np.ascontiguousarray(matrix.values)),
                                                    torch.from_numpy(np.ascontiguousarray(matrix.mask)))
    return kwargs


def plugin_node(model_cfg: DictConfig) -> DictConfig:
    """The model config without the keys recbench reads itself (``item_fields``, ``user_fields``)."""
    node = model_cfg.copy()
    with open_dict(node):
        for key in FEATURE_FIELD_KEYS:
            node.pop(key, None)
    return node
