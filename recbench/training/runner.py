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

from recbench.console import EpochLine, progress_bars_wanted
from recbench.data.interactions import SplitData
from recbench.data.sequences import build_sequences, history_sequences
from recbench.evaluation.evaluator import Evaluator, RankingResult
from recbench.plugin import reads_sequences
from recbench.privacy.settings import DPSettings
from recbench.record import Privacy
from recbench.training.module import InteractionDataModule, RecommenderModule
from recbench.training.sequence_batches import Masking

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
    privacy: Privacy | None = None  # the budget a DP run spent
    tested_model: object = None  # the model whose test metrics these are, when not the one passed in (refit)


def fit_device(trainer_cfg: DictConfig) -> torch.device:
    """Where a fitted model is scored: the trainer's accelerator (``auto`` picks the GPU when there is one)."""
    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _fit_on(model, split: SplitData) -> None:
    """``fit(train)``, or ``fit(train, sequences)`` for a sequence model (the training items in time order)."""
    if reads_sequences(model):
        model.fit(split.train, build_sequences(split, "train"))
    else:
        model.fit(split.train)


def _sequences(model, split: SplitData, stage: str):
    """The time-ordered histories ``[n_users, max_len]`` a sequence model scores from, else None."""
    return history_sequences(split, stage, model.max_len) if reads_sequences(model) else None


def run_fit_model(model, split: SplitData, evaluator: Evaluator, device: torch.device, refit: bool) -> Outcome:
    """Fit on the training matrix (again on train + validation targets with ``refit``) and evaluate."""
    start = time.perf_counter()
    _fit_on(model, split)
    train_seconds = time.perf_counter() - start
    model.to(device)
    valid = evaluator.evaluate(model, *split.stage("valid"), "valid", device, _sequences(model, split, "valid"))
    if refit:
        start = time.perf_counter()
        _fit_on(model, split.merged_for_refit())
        train_seconds += time.perf_counter() - start
        model.to(device)
    start = time.perf_counter()
    test = evaluator.evaluate(model, *split.stage("test"), "test", device, _sequences(model, split, "test"))
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
        resume_from: a full checkpoint (``checkpoints/last.ckpt``) to continue training from.
        privacy: train by DP-SGD (``privacy=dp``), or None.
    """

    trainer: DictConfig
    monitor: str
    patience: int
    refit: bool
    seed: int
    output_dir: Path
    logger: object | None = None
    callbacks: tuple = ()
    resume_from: Path | None = None
    privacy: DPSettings | None = None

    def build_trainer(self, callbacks: list, **overrides) -> pl.Trainer:
        # A log file gets one line per epoch; a terminal gets the progress bar.
        progress_bar = progress_bars_wanted(self.trainer.get("enable_progress_bar"))
        if not progress_bar:
            callbacks = [*callbacks, EpochLine(self.monitor)]
        return instantiate(self.trainer, default_root_dir=str(self.output_dir), logger=self.logger or False,
                           callbacks=callbacks, enable_progress_bar=progress_bar, **overrides)


def _fit(model: torch.nn.Module, split: SplitData, evaluator: Evaluator, training: GradientTraining,
         callbacks: list, resume_from: Path | None = None, private=None, **trainer_overrides):
    """Train ``model`` on ``split``; returns (trainer, module, data module, seconds)."""
    strategy = {}
    if getattr(model, "manual_optimization", False) and training.trainer.get("strategy") == "ddp":
        # Each optimiser owns part of the parameters and each backward pass serves one of them,
        # so the others' parameters go unused in it: DDP must be told to look for them.
        strategy = {"strategy": "ddp_find_unused_parameters_true"}
    module = RecommenderModule(model, split.n_items, evaluator, training.monitor, private=private)
    data = InteractionDataModule(split, model.batch_kind, model.batch_size, evaluator, training.seed,
                                 getattr(model, "num_negatives", 0), poisson=private is not None,
                                 max_len=model.max_len if reads_sequences(model) else None,
                                 masking=Masking.of(model))
    trainer = training.build_trainer(callbacks, **strategy, **trainer_overrides)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=resume_from, weights_only=True)
    return trainer, module, data, time.perf_counter() - start


def run_gradient_model(model: torch.nn.Module, split: SplitData, evaluator: Evaluator,
                       training: GradientTraining, build_model: Callable[[], torch.nn.Module]) -> Outcome:
    """Train with early stopping on the validation metric, restore the best epoch, test.

    With ``training.refit`` a fresh model from ``build_model()`` (seeded like the first) is then
    trained on train + validation for the chosen number of epochs and tested instead. With
    ``training.privacy`` the model is trained by DP-SGD on Poisson-sampled batches (a refit is
    rejected with the config, before any data is read).
    """
    checkpoint = ModelCheckpoint(dirpath=training.output_dir / "checkpoints", filename="best",
                                 monitor=training.monitor, mode="max", save_top_k=1, save_weights_only=True,
                                 enable_version_counter=False)
    callbacks = [EarlyStopping(monitor=training.monitor, mode="max", patience=training.patience),
                 checkpoint, *training.callbacks]
    validated = split.valid.nnz > 0
    if not validated:
        # No validation stage (split=predefined without split.valid): nothing to stop early on
        # or to pick an epoch by, so train every epoch and test the last one.
        log.warning("no validation targets: training all trainer.max_epochs epochs without early stopping, "
                    "testing the last epoch")
        checkpoint = None  # the last epoch is tested: last.ckpt below serves
        callbacks = [*training.callbacks]
    # The full state after every epoch (weights, optimiser, loops, callbacks), so that resume=true
    # continues a killed run where it stopped and ends as the uninterrupted run would.
    last = ModelCheckpoint(dirpath=training.output_dir / "checkpoints", filename="last", save_top_k=1,
                           enable_version_counter=False)
    callbacks.append(last)
    checkpoint = checkpoint or last
    private = None
    if training.privacy is not None:
        from recbench.privacy.engine import EpsilonLogger
        from recbench.privacy.lightning import private_training

        private = private_training(training.privacy, model, split.train, training.trainer.max_epochs,
                                   training.seed)
        callbacks.append(EpsilonLogger(private))
    trainer, module, data, train_seconds = _fit(model, split, evaluator, training, callbacks,
                                                training.resume_from, private)
    epochs = trainer.current_epoch
    best_epoch = module.best_epoch if validated else epochs - 1
    # The best epoch's validation result, kept as training went (an empty one without validation).
    valid = module.best_valid if validated else evaluator.accumulator(split.n_items, "valid").gather()
    ckpt_path = checkpoint.best_model_path or None
    refit_epochs = None
    if training.refit and validated:
        refit_epochs = best_epoch + 1
        log.info("refitting on train + valid for %d epochs", refit_epochs)
        trainer, module, data, seconds = _fit(
            build_model(), split.merged_for_refit(), evaluator, training, list(training.callbacks),
            max_epochs=refit_epochs, min_epochs=refit_epochs, limit_val_batches=0, enable_checkpointing=False)
        train_seconds += seconds
        ckpt_path = None
    start = time.perf_counter()
    trainer.test(module, datamodule=data, ckpt_path=ckpt_path, verbose=False, weights_only=True)
    return Outcome(valid, module.last_result["test"], train_seconds, time.perf_counter() - start,
                   epochs=epochs, best_epoch=best_epoch, refit_epochs=refit_epochs,
                   is_global_zero=trainer.is_global_zero, tested_model=module.model,
                   privacy=private.record() if private is not None else None)
