"""Which features a model or a split needs, checked before any data is read and handed to the model.

The glue between the run config and :mod:`recbench.data.feature_loading`: ``train()`` calls
:func:`check_feature_config` first, :func:`attach_features` after reading the interactions, and
builds the model with :func:`plugin_node` and :func:`model_feature_kwargs`.
"""

from __future__ import annotations

import numpy as np
import torch
from hydra.utils import get_class
from omegaconf import DictConfig, open_dict

from recbench.data.feature_loading import EncoderRecord, build_encoder, declared_features, load_features
from recbench.data.features import FeatureMatrix
from recbench.data.interactions import Interactions
from recbench.errors import IncompatibleError, RecbenchError, require
from recbench.plugin import FEATURE_FIELD_KEYS, FeatureTensors, feature_sides, model_name


def attach_features(dataset: DictConfig, data: Interactions, model_cfg: DictConfig, encoder_cfg: DictConfig | None,
                    cache_dir: str | None) -> tuple[Interactions, EncoderRecord | None]:
    """Load the features the model takes: its sides, and of those only its ``*_fields``.

    A split that needs features only checks that the dataset declares them
    (:func:`check_feature_config`); nothing is read, and no text encoded, for a model without
    features, so its runs cost what they did before features existed.

    Args:
        dataset: the dataset config.
        data: the interactions.
        model_cfg: the model config.
        encoder_cfg: the ``encoder`` config (text fields).
        cache_dir: ``paths.cache_dir``.
    """
    from recbench.data.loading import dataset_folder  # loading imports nothing from here

    sides = tuple(side for side in model_feature_sides(model_cfg) if side in declared_features(dataset))
    if not sides:
        return data, None
    fields = {side: model_cfg.get(f"{side}_fields") for side in sides}
    return load_features(dataset, data, dataset_folder(dataset, cache_dir), build_encoder(encoder_cfg), cache_dir,
                         sides, fields)


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
    return feature_sides(model_class(model_cfg), model_cfg.get("use_features"), model_cfg.get("feature_inputs"))


def split_feature_sides(split_cfg: DictConfig) -> tuple[str, ...]:
    """Which sides' features a split protocol needs (its class attribute ``needs_features``)."""
    return tuple(getattr(model_class(split_cfg), "needs_features", ()))


def check_feature_config(model_cfg: DictConfig, split_cfg: DictConfig, dataset: DictConfig,
                         model_label: str | None = None, split_label: str | None = None) -> set[str]:
    """Before any data is read: the sides the model and split need are declared by the dataset.

    ``model_label`` / ``split_label`` are the names the user typed (``model=contentknn``), for messages.

    Returns:
        The sides the model and the split need.

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
                f"dataset.features.{side} (see docs/side_information.md) or choose a dataset that has them",
                IncompatibleError)
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
