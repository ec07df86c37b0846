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
from recbench.data.sequences import check_time_order
from recbench.data.split_cache import cached_split
from recbench.errors import RecbenchError, require, require_positive
from recbench.evaluation.evaluator import RankingResult
from recbench.evaluation.sampled import protocol_record
from recbench.plugin import is_fit_model
from recbench.results import RESULTS_FILE, SCHEMA_VERSION, git_revision, library_versions, write_json, write_parquet
from recbench.sweep.pruning import trial_callbacks
from recbench.tracking import build_logger, close_logger, component_names
from recbench.training.runner import Outcome, run_fit_model, run_gradient_model

log = logging.getLogger("recbench")


def check_config(cfg: DictConfig) -> None:
    """Values that no component can check for itself, checked before any work starts."""
    require_positive("trainer.max_epochs", cfg.trainer.get("max_epochs"), integer=True)
    require(len(cfg.evaluation.ks) > 0 and all(isinstance(k, int) and k > 0 for k in cfg.evaluation.ks),
            f"evaluation.ks must be a list of positive integers, got {list(cfg.evaluation.ks)}")
    require_positive("evaluation.batch_size", cfg.evaluation.batch_size, integer=True)
    require_positive("evaluation.patience", cfg.evaluation.patience + 1, integer=True)
    check_time_order(cfg.model, cfg.split, component_names(cfg)["split"])


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> dict:
    """Run one experiment and write its results; returns the results dictionary."""
    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
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
        outcome = run_fit_model(model, split, cfg.evaluation)
    else:
        outcome = run_gradient_model(model, split, cfg, logger, output_dir, extra_callbacks or [], build_model)

    results = assemble_results(cfg, data, split, model, outcome, stats, split_file)
    if outcome.is_global_zero:
        save_run(output_dir, results, data, split, outcome, cfg.evaluation.save_recommendations)
        close_logger(logger, results, output_dir)
        print_table(results)
    return results


def assemble_results(cfg: DictConfig, data: Interactions, split: SplitData, model, outcome: Outcome,
                     stats: dict, split_file: Path | None = None) -> dict:
    """Everything a result needs to be trusted, reproduced and compared."""
    n_params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else 0
    names = component_names(cfg)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": names["model"],
                  "target": cfg.model._target_, "n_params": int(n_params)},
        "dataset": {"name": cfg.dataset.name, "fingerprint": data.fingerprint(), "stats": stats},
        "split": {"name": names["split"],
                  "config": OmegaConf.to_container(cfg.split, resolve=True), "counts": split.counts(),
                  "cache_file": str(split_file) if split_file else None},
        "seed": cfg.seed,
        "evaluation": protocol_record(cfg.evaluation),
        "metrics": {**outcome.valid.summary("valid"), **outcome.test.summary("test")},
        "timing": {"train_seconds": outcome.train_seconds, "eval_seconds": outcome.eval_seconds,
                   "epochs": outcome.epochs, "best_epoch": outcome.best_epoch},
        "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": library_versions(),
        "git_revision": git_revision(),
        "artifacts": {"per_user_test": "per_user_test.parquet"},
    }


def save_run(output_dir: Path, results: dict, data: Interactions, split: SplitData, outcome: Outcome,
             save_recommendations: bool) -> None:
    """Write per-user metrics, optional recommendations, and results.json last (each atomically)."""
    test: RankingResult = outcome.test
    per_user = pd.DataFrame({"user_id": data.user_ids[test.users], **test.per_user})
    write_parquet(output_dir / "per_user_test.parquet", per_user)
    if save_recommendations and test.top_items is not None:
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
        results["artifacts"].update(recommendations="recommendations.parquet", test="test.parquet")
    write_json(output_dir / RESULTS_FILE, results)


def print_table(results: dict) -> None:
    """A short table of the test metrics at the end of the run."""
    metrics = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
    lines = [f"test metrics of {results['model']['name']} on {results['dataset']['name']}:"]
    lines += [f"  {name[5:]:<16} {value:.4f}" for name, value in metrics.items()]
    timing = results["timing"]
    lines.append(f"  train {timing['train_seconds']:.1f} s, evaluation {timing['eval_seconds']:.1f} s")
    print("\n".join(lines), flush=True)


def main(cfg: DictConfig) -> float | list[float | None] | None:
    """Hydra's task function: run, and return the metric a sweep optimises.

    ``optimized_metric`` names a metric (``valid/ndcg@10``) or a timing (``timing/train_seconds``),
    or lists several for a multi-objective sweep (then a list of values is returned).
    A :class:`RecbenchError` ends a single run with its message and exit status 1; in a
    multirun it is raised so the sweeper can record the failed trial and go on.
    """
    try:
        results = train(cfg, extra_callbacks=trial_callbacks(cfg))
    except RecbenchError as error:
        multirun = HydraConfig.initialized() and getattr(HydraConfig.get().mode, "name", None) == "MULTIRUN"
        if multirun:
            raise
        log.error("%s", error)
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    values = {**results["metrics"], **{f"timing/{k}": v for k, v in results["timing"].items()}}
    names = cfg.get("optimized_metric")
    if OmegaConf.is_list(names):
        return [values.get(name) for name in names]
    return values.get(names)
