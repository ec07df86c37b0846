"""A run's link to its Optuna trial: the validation metric of each epoch, and pruning.

The sweeper names the trial in the job's environment (``hydra.job.env_set``), so the link works
whichever launcher runs the job: in the sweeper's process (basic launcher), in a joblib worker,
or on another machine that reaches the same storage. The run reopens the study from the
storage and reports to the trial there.
"""

from __future__ import annotations

import json
import logging
import math
import os

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.trainer.states import TrainerFn

TRIAL_ENV = "RECBENCH_OPTUNA_TRIAL"

log = logging.getLogger(__name__)


def trial_reference(storage: str, study_name: str, number: int) -> str:
    """What the sweeper puts in :data:`TRIAL_ENV` for one trial."""
    return json.dumps({"storage": storage, "study": study_name, "trial": number})


def trial_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """``[OptunaPruning]`` when this run is a trial of a single-objective study, else ``[]``.

    The reported metric is ``evaluation.monitor``, the validation metric the trainer computes
    every epoch and the sweep optimises.
    """
    reference = os.environ.get(TRIAL_ENV)
    if not reference:
        return []
    import optuna

    from recbench.sweep.study import open_storage, trial_id

    reference = json.loads(reference)
    pruner = instantiate(HydraConfig.get().sweeper.pruner) if HydraConfig.initialized() else None
    storage = open_storage(reference["storage"])
    study = optuna.load_study(study_name=reference["study"], storage=storage, pruner=pruner)
    if len(study.directions) > 1:
        return []  # Optuna prunes single-objective studies only
    trial = optuna.trial.Trial(study, trial_id(storage, reference["study"], reference["trial"]))
    return [OptunaPruning(trial, cfg.evaluation.monitor)]


class OptunaPruning(pl.Callback):
    """Reports ``monitor`` after each training epoch's validation and stops hopeless trials.

    Args:
        trial: the run's Optuna trial.
        monitor: a metric the module logs at validation, e.g. ``valid/ndcg@10``.
    """

    def __init__(self, trial, monitor: str):
        self.trial = trial
        self.monitor = monitor

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Only while fitting (not during a separate validate() call).
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        value = trainer.callback_metrics.get(self.monitor)
        epoch = trainer.current_epoch
        prune = False
        if trainer.is_global_zero and value is not None and math.isfinite(float(value)):
            self.trial.report(float(value), step=epoch)
            prune = self.trial.should_prune()
        # Every process of a DDP run stops together.
        if trainer.strategy.broadcast(prune, src=0):
            import optuna

            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({self.monitor} {float(value):.4f})")
