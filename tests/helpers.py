"""Helpers shared by the tests: compose the real config, shrunk for speed."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
TINY_DATA = [
    "dataset.source.n_users=120", "dataset.source.n_items=80", "dataset.source.mean_interactions=20",
]


def compose_config(overrides: list[str], output_dir: Path, tiny: bool = True) -> DictConfig:
    """The composed run config with ``overrides``, no logger, outputs in ``output_dir``.

    With ``tiny``, the synthetic dataset is shrunk and training is short. HydraConfig is set as
    in a real run, so ``${hydra:...}`` interpolations resolve.
    """
    GlobalHydra.instance().clear()
    base = ["logger=none", "trainer.enable_progress_bar=false", "trainer.max_epochs=3"]
    if tiny:
        base += TINY_DATA
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=base + overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        if not any(o.startswith("paths.cache_dir=") for o in overrides):
            cfg.paths.cache_dir = str(Path(output_dir) / "cache")  # never the user's ~/.cache
        del cfg["hydra"]  # a real run's task function never sees this node
    return cfg
