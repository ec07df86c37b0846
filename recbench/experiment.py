"""One experiment, top to bottom: data, split, model, training, evaluation, results."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from recbench.config import build
from recbench.data.interactions import Interactions, SplitData
from recbench.data.loading import load_dataset
from recbench.data.preprocess import statistics
from recbench.data.split_cache import cached_split
from recbench.errors import RecbenchError, require, require_positive
from recbench.evaluation.evaluator import Evaluator, RankingResult
from recbench.evaluation.sampled import protocol_record
from recbench.plugin import is_fit_model
from recbench.record import RunRecord, Timing
from recbench.results import git_revision, library_versions, write_parquet
from recbench.sweep.pruning import trial_callbacks
from recbench.tracking import build_logger, close_logger, component_names
from recbench.training.runner import GradientTraining, Outcome, fit_device, run_fit_model, run_gradient_model

log = logging.getLogger("recbench")


def check_config(cfg: DictConfig) -> None:
    """Values that no component can check for itself, checked before any work starts."""
    require_positive("trainer.max_epochs", cfg.trainer.get("max_epochs"), integer=True)
    ks = list(cfg.evaluation.ks)
    require(len(ks) > 0 and all(isinstance(k, int) and k > 0 for k in ks),
            f"evaluation.ks must be a list of positive integers, got {ks}")
    require_positive("evaluation.batch_size", cfg.evaluation.batch_size, integer=True)
    require_positive("evaluation.patience", cfg.evaluation.patience + 1, integer=True)
    check_monitor(cfg.evaluation.monitor, ks, cfg.get("optimized_metric"))


def check_monitor(monitor: str, ks: list[int], optimized) -> None:
    """``evaluation.monitor`` names a validation metric the run computes; a sweep optimises it.

    ``optimized_metric`` is derived from it (``${evaluation.monitor}``); a multi-objective sweep may
    list further objectives after it, but a single different name would make the checkpoint and the
    search optimise different things.
    """
    stage, _, metric = str(monitor).partition("/")
    name, _, k = metric.partition("@")
    require(stage == "valid" and name and (not k or (k.isdigit() and int(k) in ks)),
            f"evaluation.monitor={monitor!r} must name a validation metric the run computes, "
            f"'valid/<metric>@<k>' with k in evaluation.ks={ks}, e.g. valid/ndcg@{ks[0]}")
    names = list(optimized) if OmegaConf.is_list(optimized) or isinstance(optimized, list) else [optimized]
    require(optimized is None or names[0] == monitor,
            f"optimized_metric={names if len(names) > 1 else names[0]!r} disagrees with evaluation.monitor="
            f"{monitor!r}: set evaluation.monitor (the sweep optimises it); to add objectives, list "
            f"them after it: optimized_metric=[{monitor},timing/train_seconds]")


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> RunRecord:
    """Run one experiment and write its results; returns its record."""
    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    evaluator = Evaluator.from_config(cfg.evaluation)
    pl.seed_everything(cfg.seed, workers=True)

    data = load_dataset(cfg.dataset, cache_dir=cfg.paths.cache_dir)
    split, split_file = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed),
                                     cache_dir=cfg.paths.cache_dir)
    stats = statistics(data)
    log.info("dataset %s: %s; split %s", cfg.dataset.name, stats, split.counts())

    def build_model():
        pl.seed_everything(cfg.seed, workers=True)
        return build(cfg.model, "model", n_users=data.n_users, n_items=data.n_items)

    model = build_model()
    logger = build_logger(cfg)
    if logger is not None:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    if is_fit_model(model):
        outcome = run_fit_model(model, split, evaluator, fit_device(cfg.trainer), cfg.evaluation.refit)
    else:
        training = GradientTraining(cfg.trainer, cfg.evaluation.monitor, cfg.evaluation.patience,
                                    cfg.evaluation.refit, cfg.seed, output_dir, logger,
                                    tuple(extra_callbacks or ()))
        outcome = run_gradient_model(model, split, evaluator, training, build_model)

    record = make_record(cfg, data, split, model, outcome, stats, split_file)
    if outcome.is_global_zero:
        save_run(output_dir, record, data, split, outcome.test)
        close_logger(logger, record, output_dir)
        print_table(record)
    return record


def make_record(cfg: DictConfig, data: Interactions, split: SplitData, model, outcome: Outcome,
                stats: dict, split_file: Path | None = None) -> RunRecord:
    """Everything a result needs to be trusted, reproduced and compared."""
    n_params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else 0
    names = component_names(cfg)
    return RunRecord(
        model=names["model"], model_target=cfg.model._target_, n_params=int(n_params),
        dataset=cfg.dataset.name, fingerprint=data.fingerprint(), stats=stats,
        split=names["split"], split_config=OmegaConf.to_container(cfg.split, resolve=True),
        split_counts=split.counts(), split_cache_file=str(split_file) if split_file else None,
        seed=cfg.seed,
        evaluation=protocol_record(cfg.evaluation),
        metrics={**outcome.valid.summary("valid"), **outcome.test.summary("test")},
        timing=Timing(outcome.train_seconds, outcome.eval_seconds, outcome.epochs, outcome.best_epoch,
                      outcome.refit_epochs),
        config=OmegaConf.to_container(cfg, resolve=True),
        versions=library_versions(),
        git_revision=git_revision(),
        artifacts={"per_user_test": "per_user_test.parquet"},
    )


def save_run(output_dir: Path, record: RunRecord, data: Interactions, split: SplitData,
             test: RankingResult) -> None:
    """Write per-user metrics, recommendations when kept, and results.json last (each atomically)."""
    per_user = pd.DataFrame({"user_id": data.user_ids[test.users], **test.per_user})
    write_parquet(output_dir / record.artifacts["per_user_test"], per_user)
    if test.top_items is not None:
        n_users, k = test.top_items.shape
        write_parquet(output_dir / "recommendations.parquet", pd.DataFrame({
            "user_id": np.repeat(data.user_ids[test.users], k),
            "item_id": data.item_ids[test.top_items.reshape(-1)],
            "rank": np.tile(np.arange(1, k + 1), n_users),
            "score": test.top_scores.reshape(-1),
        }))
        truth = split.test.tocoo()
        write_parquet(output_dir / "test.parquet", pd.DataFrame(
            {"user_id": data.user_ids[truth.row], "item_id": data.item_ids[truth.col]}))
        record.artifacts.update(recommendations="recommendations.parquet", test="test.parquet")
    record.save(output_dir)


def print_table(record: RunRecord) -> None:
    """A short table of the test metrics at the end of the run."""
    lines = [f"test metrics of {record.model} on {record.dataset}:"]
    lines += [f"  {name:<16} {value:.4f}" for name, value in record.stage_metrics("test").items()]
    lines.append(f"  train {record.timing.train_seconds:.1f} s, evaluation {record.timing.eval_seconds:.1f} s")
    print("\n".join(lines), flush=True)


def main(cfg: DictConfig) -> float | list[float | None] | None:
    """Hydra's task function: run, and return the metric a sweep optimises.

    The value is that of ``evaluation.monitor`` (``optimized_metric`` is derived from it); a
    multi-objective sweep lists further objectives after it in ``optimized_metric``, metrics or
    timings (``timing/train_seconds``), and gets a list of values.
    A :class:`RecbenchError` ends a single run with its message and exit status 1; in a
    multirun it is raised so the sweeper can record the failed trial and go on.
    """
    try:
        record = train(cfg, extra_callbacks=trial_callbacks(cfg))
    except RecbenchError as error:
        multirun = HydraConfig.initialized() and getattr(HydraConfig.get().mode, "name", None) == "MULTIRUN"
        if multirun:
            raise
        log.error("%s", error)
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    values = record.objective_values()
    names = cfg.get("optimized_metric")
    if OmegaConf.is_list(names):
        return [values.get(name) for name in names]
    return values.get(names)
