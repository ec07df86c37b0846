"""Runs one model through training and evaluation: the Lightning path or the fit path."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from recbench.data.interactions import SplitData
from recbench.evaluation.evaluator import Evaluator, RankingResult
from recbench.training.module import InteractionDataModule, RecommenderModule

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What training produced: the metrics of both stages and how long it took."""

    valid: RankingResult
    test: RankingResult
    train_seconds: float
    eval_seconds: float
    epochs: int | None = None  # epochs trained (gradient models)
    best_epoch: int | None = None  # epoch whose weights were tested (0-based)
    refit_epochs: int | None = None  # epochs retrained on train + valid before the test
    is_global_zero: bool = True  # False on the other processes of a DDP run


def fit_device(trainer_cfg: DictConfig) -> torch.device:
    """Where a fitted model is scored: the trainer's accelerator (``auto`` picks the GPU when there is one)."""
    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def run_fit_model(model, split: SplitData, evaluator: Evaluator, device: torch.device, refit: bool) -> Outcome:
    """Fit on the training matrix (again on train + validation targets with ``refit``) and evaluate."""
    start = time.perf_counter()
    model.fit(split.train)
    train_seconds = time.perf_counter() - start
    model.to(device)
    valid = evaluator.evaluate(model, *split.stage("valid"), "valid", device)
    if refit:
        start = time.perf_counter()
        model.fit(split.merged_for_refit().train)
        train_seconds += time.perf_counter() - start
        model.to(device)
    start = time.perf_counter()
    test = evaluator.evaluate(model, *split.stage("test"), "test", device)
    return Outcome(valid, test, train_seconds, time.perf_counter() - start)


@dataclass
class GradientTraining:
    """How a gradient model is trained, beside the model and the data.

    Attributes:
        trainer: the ``trainer`` config (a ``pytorch_lightning.Trainer`` to instantiate).
        monitor: the validation metric that picks the best epoch (``valid/ndcg@10``).
        patience: validations without improvement before stopping early.
        refit: retrain a fresh model on train + valid for the chosen epochs before the test.
        seed: seeds the training batches.
        output_dir: the run folder (checkpoints go to ``checkpoints/``).
        logger: a Lightning logger, or None.
        callbacks: further callbacks (sweep pruning, tests), also given to the refit trainer.
    """

    trainer: DictConfig
    monitor: str
    patience: int
    refit: bool
    seed: int
    output_dir: Path
    logger: object | None = None
    callbacks: tuple = ()

    def build_trainer(self, callbacks: list, **overrides) -> pl.Trainer:
        return instantiate(self.trainer, default_root_dir=str(self.output_dir), logger=self.logger or False,
                           callbacks=callbacks, **overrides)


def _fit(model: torch.nn.Module, split: SplitData, evaluator: Evaluator, training: GradientTraining,
         callbacks: list, **trainer_overrides):
    """Train ``model`` on ``split``; returns (trainer, module, data module, seconds)."""
    strategy = {}
    if getattr(model, "manual_optimization", False) and training.trainer.get("strategy") == "ddp":
        # Each optimiser owns part of the parameters and each backward pass serves one of them,
        # so the others' parameters go unused in it: DDP must be told to look for them.
        strategy = {"strategy": "ddp_find_unused_parameters_true"}
    module = RecommenderModule(model, split.n_items, evaluator, training.monitor)
    data = InteractionDataModule(split, model.batch_kind, model.batch_size, evaluator, training.seed,
                                 getattr(model, "num_negatives", 0))
    trainer = training.build_trainer(callbacks, **strategy, **trainer_overrides)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    return trainer, module, data, time.perf_counter() - start


def run_gradient_model(model: torch.nn.Module, split: SplitData, evaluator: Evaluator,
                       training: GradientTraining, build_model: Callable[[], torch.nn.Module]) -> Outcome:
    """Train with early stopping on the validation metric, restore the best epoch, test.

    With ``training.refit`` a fresh model from ``build_model()`` (seeded like the first) is then
    trained on train + validation for the chosen number of epochs and tested instead.
    """
    checkpoint = ModelCheckpoint(dirpath=training.output_dir / "checkpoints", filename="best",
                                 monitor=training.monitor, mode="max", save_top_k=1, save_weights_only=True)
    callbacks = [EarlyStopping(monitor=training.monitor, mode="max", patience=training.patience),
                 checkpoint, *training.callbacks]
    trainer, module, data, train_seconds = _fit(model, split, evaluator, training, callbacks)
    epochs, best_epoch = trainer.current_epoch, module.best_epoch
    valid = module.best_valid  # the best epoch's validation result, kept as training went
    ckpt_path = checkpoint.best_model_path or None
    refit_epochs = None
    if training.refit:
        refit_epochs = best_epoch + 1
        log.info("refitting on train + valid for %d epochs", refit_epochs)
        trainer, module, data, seconds = _fit(
            build_model(), split.merged_for_refit(), evaluator, training, list(training.callbacks),
            max_epochs=refit_epochs, min_epochs=refit_epochs, limit_val_batches=0, enable_checkpointing=False)
        train_seconds += seconds
        ckpt_path = None
    start = time.perf_counter()
    trainer.test(module, datamodule=data, ckpt_path=ckpt_path, verbose=False)
    return Outcome(valid, module.last_result["test"], train_seconds, time.perf_counter() - start,
                   epochs=epochs, best_epoch=best_epoch, refit_epochs=refit_epochs,
                   is_global_zero=trainer.is_global_zero)
