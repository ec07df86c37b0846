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
from omegaconf import DictConfig, OmegaConf

from recbench.config import build
from recbench.data.encoders import encode_cached, encoder_key, save_arrays
from recbench.data.feature_files import read_fields
from recbench.data.features import FeatureMatrix, FieldInfo, build_feature_matrix
from recbench.data.interactions import Interactions
from recbench.errors import RecbenchError, require

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


def needed_specs(specs: dict, names) -> dict:
    """The specs of fields ``names`` and of the fields their text joins read (declaration order).

    None keeps every spec.
    """
    if names is None:
        return specs
    wanted, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name in specs and name not in wanted:
            wanted.add(name)
            stack.extend(specs[name].get("join") or [])
    return {name: spec for name, spec in specs.items() if name in wanted}


def load_features(dataset: DictConfig, data: Interactions, folder: Path | None, encoder=None,
                  cache_dir: str | None = None, sides: tuple[str, ...] = SIDES, fields: dict | None = None
                  ) -> tuple[Interactions, EncoderRecord | None]:
    """``data`` with ``item_features`` / ``user_features`` from the dataset's ``features`` section.

    Args:
        dataset: the dataset config.
        data: the encoded interactions (their ids define the rows).
        folder: the dataset folder feature files are relative to (None: the working directory).
        encoder: the text encoder (from :func:`build_encoder`); needed when a text field exists.
        cache_dir: the cache folder; None builds the matrices without caching.
        sides: which sides to load.
        fields: ``{side: field names or None}``: load only those fields (and what they join);
            a side left out, or None, loads every field.

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
        specs = needed_specs(declared[side], (fields or {}).get(side))
        matrices[f"{side}_features"] = _matrix(side, specs, folder, ids, encoder, cache_dir)
        used_text |= any(spec.get("kind") == "text" and spec.get("keep", True) for spec in specs.values())
        for name, kind, dim, coverage in matrices[f"{side}_features"].describe():
            log.info("%s feature %s: %s, dimension %d, coverage %.1f%%", side, name, kind, dim, 100 * coverage)
    record = EncoderRecord(encoder.name, encoder.version, dict(encoder.params)) if used_text and encoder else None
    return dataclasses.replace(data, **matrices), record
