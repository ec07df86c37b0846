"""Every model config binds to its constructor, so a misspelt key fails here, not mid-run.

Configs are found on disk at test time (recursively), so a new ``conf/model/*.yaml`` is checked
without editing this file.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from hydra.utils import get_object
from omegaconf import OmegaConf

from recbench.plugin import FEATURE_FIELD_KEYS
from recbench.testing.conformance import compose_model

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "conf" / "model"
MODEL_FILES = sorted(MODEL_DIR.rglob("*.y*ml"))
OPTIONS = [path.relative_to(MODEL_DIR).with_suffix("").as_posix() for path in MODEL_FILES]


def bind(node: dict, where: str, runtime: dict) -> int:
    """Bind ``node``'s keys to its ``_target_``'s signature and recurse; returns the nodes bound.

    A top-level model must accept every key plus the runtime arguments and need nothing else;
    a nested ``_partial_`` node (an optimizer) only has to accept its keys.
    """
    target = get_object(node["_target_"])
    # item_fields / user_fields are read by recbench to choose features, never passed to the plugin.
    kwargs = {key: value for key, value in node.items()
              if not key.startswith("_") and key not in FEATURE_FIELD_KEYS}
    signature = inspect.signature(target)
    try:
        if node.get("_partial_"):
            signature.bind_partial(**runtime, **kwargs)
        else:
            signature.bind(**runtime, **kwargs)
    except TypeError as error:
        raise AssertionError(f"{where} ({node['_target_']}): {error}; keys: {sorted(kwargs)}") from None
    bound = 1
    for key, value in kwargs.items():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict) and "_target_" in child:
                bound += bind(child, f"{where}.{key}", {})
    return bound


def test_model_configs_are_found():
    assert "mlp" in OPTIONS and "pop" in OPTIONS


def test_hydra_sees_every_model_config_file():
    """A file Hydra ignores (a ``.yml`` suffix, say) would be a model nobody can select."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def options(group: str) -> set[str]:
            found = {f"{group}/{name}" for name in loader.get_group_options(group, ObjectType.CONFIG)}
            for sub in loader.get_group_options(group, ObjectType.GROUP):
                found |= options(f"{group}/{sub}")
            return found

        seen = {name.removeprefix("model/") for name in options("model")}
    assert set(OPTIONS) <= seen, f"Hydra cannot select {sorted(set(OPTIONS) - seen)}: name them *.yaml"


@pytest.mark.parametrize("option", OPTIONS)
def test_model_config_keys_bind_to_the_constructor(option):
    model = OmegaConf.to_container(compose_model(option, REPO), resolve=False)
    assert "_target_" in model, f"conf/model/{option}.yaml has no _target_"
    assert bind(model, f"conf/model/{option}.yaml", {"n_users": 1, "n_items": 1}) >= 1


def test_a_misspelt_key_fails_to_bind():
    with pytest.raises(AssertionError, match="unexpected keyword argument 'embeding_dim'"):
        bind({"_target_": "plugins.mlp.MLP", "embeding_dim": 8}, "typo.yaml", {"n_users": 1, "n_items": 1})


def test_a_misspelt_optimizer_key_fails_to_bind():
    node = {"_target_": "plugins.mlp.MLP",
            "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "learning_rate": 0.1}}
    with pytest.raises(AssertionError, match=r"typo.yaml.optimizer \(torch.optim.Adam\).*learning_rate"):
        bind(node, "typo.yaml", {"n_users": 1, "n_items": 1})


def test_a_model_that_does_not_take_the_runtime_sizes_fails_to_bind():
    with pytest.raises(AssertionError, match="n_users"):
        bind({"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 2}, "linear.yaml",
             {"n_users": 1, "n_items": 1})
