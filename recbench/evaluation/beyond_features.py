"""The side information the beyond-accuracy metrics need, declared and loaded apart from the model's.

Intra-list diversity and calibration need one item field (``evaluation.item_field``, genres on
MovieLens); user groups other than ``activity`` are user fields (gender, age). Only those fields
are loaded (no text encoder runs for them), and into separate matrices, so what the model is given
is unchanged. Whether the dataset declares them is checked from its config, before any data is read.
"""

from __future__ import annotations

from omegaconf import DictConfig

from recbench.data.interactions import Interactions
from recbench.errors import require
from recbench.evaluation.beyond_metrics import ALL, BUILTIN_GROUPS, NEEDS_ITEM_FEATURES, as_list

USABLE_KINDS = {"item": ("categorical", "numeric", "vector"), "user": ("categorical", "numeric")}


def beyond_feature_fields(evaluation: DictConfig, dataset: DictConfig) -> dict[str, list[str]]:
    """``{"item": [field], "user": [fields]}`` the metrics and groups need, checked against the dataset.

    Raises:
        RecbenchError: a metric or group needs a field the dataset does not declare (naming both).
    """
    from recbench.data.feature_loading import declared_features

    names = as_list(evaluation.get("beyond"))
    names = list(ALL) if "all" in names else names
    groups = [g for g in as_list(evaluation.get("user_groups")) if g not in BUILTIN_GROUPS]
    declared = declared_features(dataset)
    needs: dict[str, list[str]] = {}
    feature_metrics = [n for n in names if n in NEEDS_ITEM_FEATURES]
    item_field = evaluation.get("item_field", "genres")
    if feature_metrics and "all" not in as_list(evaluation.get("beyond")):
        known = _usable(declared, "item")
        require(known, f"evaluation.beyond: {feature_metrics} need item features (e.g. genres), but dataset "
                       f"{dataset.name!r} declares none: remove them from evaluation.beyond or use a dataset with "
                       "item features")
        require(item_field is None or item_field in known,
                f"evaluation.item_field={item_field!r} (used by {feature_metrics}) is not an item feature of dataset "
                f"{dataset.name!r}: choose from {known}")
        needs["item"] = [item_field] if item_field is not None else known
    elif feature_metrics and item_field in _usable(declared, "item"):  # "all": whatever the dataset supports
        needs["item"] = [item_field]
    if groups:
        known = _usable(declared, "user")
        missing = [g for g in groups if g not in known]
        require(not missing, f"evaluation.user_groups: {missing} need user features that dataset {dataset.name!r} "
                             f"does not declare (it has {known or 'none'}): use activity, or a dataset with them")
        needs["user"] = groups
    return needs


def _usable(declared: dict, side: str) -> list[str]:
    return [name for name, spec in declared.get(side, {}).items() if spec.get("kind") in USABLE_KINDS[side]]


def load_beyond_features(evaluation: DictConfig, dataset: DictConfig, data: Interactions, cache_dir: str | None):
    """``(item FeatureMatrix or None, user FeatureMatrix or None)`` holding only the needed fields."""
    from recbench.data.feature_loading import load_features
    from recbench.data.loading import dataset_folder

    needs = beyond_feature_fields(evaluation, dataset)
    if not needs:
        return None, None
    loaded, _ = load_features(dataset, data, dataset_folder(dataset, cache_dir), None, cache_dir, tuple(needs), needs)
    return loaded.item_features, loaded.user_features
