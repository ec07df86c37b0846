"""Runs one model through training and evaluation: the Lightning path or the fit path."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from recbench.data.interactions import SplitData
from recbench.data.sequences import build_sequences, history_sequences
from recbench.evaluation.evaluator import RankingResult, evaluate
from recbench.evaluation.sampled import sampler_from_config
from recbench.plugin import reads_sequences
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
    is_global_zero: bool = True  # False on the other processes of a DDP run


def evaluation_device(requested: str) -> torch.device:
    """``auto`` picks the GPU when there is one."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def _fit(model, split: SplitData) -> None:
    """``fit(train)``, or ``fit(train, sequences)`` for a sequence model (the training items in time order)."""
    if reads_sequences(model):
        model.fit(split.train, build_sequences(split, "train"))
    else:
        model.fit(split.train)


def _sequences(model, split: SplitData, stage: str):
    return history_sequences(split, stage, model.max_len) if reads_sequences(model) else None


def run_fit_model(model, split: SplitData, evaluation: DictConfig) -> Outcome:
    """Fit on the training matrix (plus validation targets when refitting) and evaluate."""
    device = evaluation_device(evaluation.device)
    sampler = sampler_from_config(evaluation)
    exclude_history = evaluation.get("exclude_history", True)
    start = time.perf_counter()
    _fit(model, split)
    train_seconds = time.perf_counter() - start
    model.to(device)
    valid = evaluate(model, *split.stage("valid"), evaluation.ks, evaluation.batch_size, device, sampler=sampler,
                     sequences=_sequences(model, split, "valid"), exclude_history=exclude_history)
    if evaluation.refit:
        merged = split.merged_for_refit()
        start = time.perf_counter()
        _fit(model, merged)
        train_seconds += time.perf_counter() - start
        model.to(device)
    start = time.perf_counter()
    test = evaluate(model, *split.stage("test"), evaluation.ks, evaluation.batch_size, device,
                    keep_top_items=evaluation.save_recommendations, sampler=sampler,
                    sequences=_sequences(model, split, "test"), exclude_history=exclude_history)
    return Outcome(valid, test, train_seconds, time.perf_counter() - start)


def _trainer(trainer_cfg: DictConfig, output_dir: Path, logger, callbacks: list, **overrides) -> pl.Trainer:
    return instantiate(trainer_cfg, default_root_dir=str(output_dir), logger=logger or False,
                       callbacks=callbacks, **overrides)


def _data_module(model, split: SplitData, eval_batch_size: int, seed: int) -> InteractionDataModule:
    """The batches ``model`` asks for; sequence models also get time-ordered histories."""
    return InteractionDataModule(split, model.batch_kind, model.batch_size, eval_batch_size, seed,
                                 getattr(model, "num_negatives", 0),
                                 max_len=model.max_len if reads_sequences(model) else None,
                                 mask_prob=getattr(model, "mask_prob", 0.0))


def run_gradient_model(model, split: SplitData, cfg: DictConfig, logger, output_dir: Path,
                       extra_callbacks: list, build_model) -> Outcome:
    """Train with early stopping on the validation metric, restore the best epoch, test.

    With ``evaluation.refit`` a fresh model (from ``build_model()``) is then trained on train +
    validation for the chosen number of epochs and tested instead.
    """
    evaluation = cfg.evaluation
    monitor = f"valid/{evaluation.monitor}"
    checkpoint = ModelCheckpoint(dirpath=output_dir / "checkpoints", filename="best", monitor=monitor,
                                 mode="max", save_top_k=1, save_weights_only=True)
    callbacks = [EarlyStopping(monitor=monitor, mode="max", patience=evaluation.patience),
                 checkpoint, *extra_callbacks]
    module = RecommenderModule(model, split.n_items, evaluation.ks, evaluation.save_recommendations,
                               sampler_from_config(evaluation), evaluation.get("exclude_history", True))
    data = _data_module(model, split, evaluation.batch_size, cfg.seed)
    strategy = {}
    if getattr(model, "manual_optimization", False) and cfg.trainer.get("strategy") == "ddp":
        # Each optimiser owns part of the parameters and each backward pass serves one of them,
        # so the others' parameters go unused in it: DDP must be told to look for them.
        strategy = {"strategy": "ddp_find_unused_parameters_true"}
    trainer = _trainer(cfg.trainer, output_dir, logger, callbacks, **strategy)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    train_seconds = time.perf_counter() - start
    epochs = trainer.current_epoch
    best_epoch = (torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)["epoch"]
                  if checkpoint.best_model_path else epochs - 1)

    # The best epoch's validation metrics, not the last epoch's.
    trainer.validate(module, datamodule=data, ckpt_path=checkpoint.best_model_path or None, verbose=False)
    valid = module.last_result["valid"]
    ckpt_path = checkpoint.best_model_path or None
    if evaluation.refit:
        log.info("refitting on train + valid for %d epochs", best_epoch + 1)
        merged = split.merged_for_refit()
        model = build_model()
        module = RecommenderModule(model, split.n_items, evaluation.ks, evaluation.save_recommendations,
                                   sampler_from_config(evaluation), evaluation.get("exclude_history", True))
        data = _data_module(model, merged, evaluation.batch_size, cfg.seed)
        trainer = _trainer(cfg.trainer, output_dir, logger, extra_callbacks,
                           max_epochs=best_epoch + 1, min_epochs=best_epoch + 1, limit_val_batches=0,
                           enable_checkpointing=False, **strategy)
        start = time.perf_counter()
        trainer.fit(module, datamodule=data)
        train_seconds += time.perf_counter() - start
        ckpt_path = None
    start = time.perf_counter()
    trainer.test(module, datamodule=data, ckpt_path=ckpt_path, verbose=False)
    return Outcome(valid, module.last_result["test"], train_seconds, time.perf_counter() - start,
                   epochs=epochs, best_epoch=best_epoch, is_global_zero=trainer.is_global_zero)
