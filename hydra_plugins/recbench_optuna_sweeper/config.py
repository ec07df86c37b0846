"""Config schema of recbench's Optuna sweeper, registered as ``hydra/sweeper=optuna``.

Samplers and pruners are config groups of their own, so a preset or the command line picks them
by name: ``hydra/sweeper/sampler=random``, ``hydra/sweeper/pruner=hyperband``. This module only
declares dataclasses (Hydra imports it on every run, so it must stay cheap: no optuna import).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TPESamplerConf:
    """Tree-structured Parzen Estimator (Optuna's default); random for the first trials."""

    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    multivariate: bool = False
    constant_liar: bool = True  # parallel workers avoid proposing the same point


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class GridSamplerConf:
    """Every combination of the discrete parameters (``choice`` / ``range``), in random order."""

    _target_: str = "recbench.sweep.samplers.GridSampler"
    seed: Optional[int] = None


@dataclass
class MedianPrunerConf:
    """Stops a trial whose metric is below the median of earlier trials at the same epoch."""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 2
    interval_steps: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3


@dataclass
class NopPrunerConf:
    """No pruning: every trial trains until early stopping or ``trainer.max_epochs``."""

    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.recbench_optuna_sweeper.optuna_sweeper.RecbenchOptunaSweeper"
    _recursive_: bool = False  # the sweep builds samplers itself (a seed per trial, the grid's space)
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}])

    sampler: Any = MISSING
    pruner: Any = MISSING
    # One direction per value the run returns (``optimized_metric``: a name or a list of names).
    direction: Any = "maximize"
    # Trials the study should hold in total: a rerun (resume) or a second worker runs only the rest.
    n_trials: int = 20
    # Trials asked for and launched together (in parallel with hydra/launcher=joblib).
    n_jobs: int = 1
    # null: <model>-<dataset name>.
    study_name: Optional[str] = None
    # null: sqlite:///<sweep dir>/optuna.db; or any SQLAlchemy URL; or journal:<path of a log file>.
    storage: Optional[str] = None
    load_if_exists: bool = True
    # Seconds between liveness marks of running trials (SQL storages): a trial of a killed
    # worker is marked failed after 2 intervals and does not count towards n_trials.
    heartbeat_interval: Optional[int] = 60
    # Search space in Hydra's override grammar: key -> interval(...), choice(...), range(...).
    params: Optional[Dict[str, Any]] = None


_STORE = ConfigStore.instance()
_STORE.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="recbench")
for _name, _node in [("tpe", TPESamplerConf), ("random", RandomSamplerConf), ("grid", GridSamplerConf)]:
    _STORE.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="recbench")
for _name, _node in [("median", MedianPrunerConf), ("successive_halving", SuccessiveHalvingPrunerConf),
                     ("hyperband", HyperbandPrunerConf), ("none", NopPrunerConf)]:
    _STORE.store(group="hydra/sweeper/pruner", name=_name, node=_node, provider="recbench")
