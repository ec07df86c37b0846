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
from recbench.console import metrics_table, quiet_third_party, relative
from recbench.data.feature_needs import attach_features, check_feature_config, model_feature_kwargs, plugin_node
from recbench.data.interactions import Interactions, SplitData
from recbench.data.loading import load_dataset
from recbench.data.preprocess import statistics
from recbench.data.sequences import check_time_order
from recbench.data.split_cache import cached_split
from recbench.errors import IncompatibleError, RecbenchError
from recbench.evaluation.beyond_features import beyond_feature_fields, load_beyond_features
from recbench.evaluation.beyond_metrics import BeyondAccuracy, check_beyond_config, fairness_report
from recbench.evaluation.evaluator import Evaluator, RankingResult
from recbench.evaluation.metrics import PER_USER_METRICS
from recbench.evaluation.sampled import protocol_record
from recbench.evaluation.segments import SEGMENTS
from recbench.plugin import is_fit_model
from recbench.privacy.settings import DPSettings, check_trainer_for_privacy
from recbench.privacy.validation import check_private_model
from recbench.record import RunRecord, Timing
from recbench.results import (MODEL_CHECKPOINT, RESULTS_FILE, git_revision, library_versions, write_checkpoint,
                              write_parquet)
from recbench.rundir import prepare_run_dir
from recbench.sweep.pruning import trial_callbacks
from recbench.threads import set_threads
from recbench.tracking import build_logger, close_logger, component_names
from recbench.training.runner import GradientTraining, Outcome, fit_device, run_fit_model, run_gradient_model
from recbench.validation import validate_config

log = logging.getLogger("recbench")


def privacy_settings(cfg: DictConfig) -> DPSettings | None:
    """The DP settings when ``privacy=dp`` is on, checked with the trainer they run under."""
    if cfg.get("privacy") is None:
        return None
    privacy = build(cfg.privacy, "privacy")
    check_trainer_for_privacy(cfg.trainer, cfg.evaluation)
    return privacy


def check_beyond(cfg: DictConfig) -> None:
    """The beyond-accuracy metrics and user groups asked for exist, with the features they need."""
    check_beyond_config(cfg.evaluation.get("beyond"), cfg.evaluation.get("user_groups"),
                        cfg.evaluation.get("activity_bins", 3))
    beyond_feature_fields(cfg.evaluation, cfg.dataset)  # the features the metrics need: declared?


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> RunRecord:
    """Run one experiment and write its results; returns its record."""
    validate_config(cfg)
    privacy = privacy_settings(cfg)
    check_beyond(cfg)
    names = component_names(cfg)
    check_time_order(cfg.model, cfg.split, names["split"])
    check_feature_config(cfg.model, cfg.split, cfg.dataset, names["model"], names["split"])
    set_threads(cfg.get("threads"))
    output_dir = Path(cfg.paths.output_dir)
    resume_from = prepare_run_dir(output_dir, bool(cfg.get("resume", False)))
    evaluator = Evaluator.from_config(cfg.evaluation)
    pl.seed_everything(cfg.seed, workers=True)

    data = load_dataset(cfg.dataset, cache_dir=cfg.paths.cache_dir)
    data, encoder_record = attach_features(cfg.dataset, data, cfg.model, cfg.get("encoder"),
                                           cfg.paths.cache_dir)
    split, split_file = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed),
                                     cache_dir=cfg.paths.cache_dir)
    beyond = build_beyond(cfg.evaluation, cfg.dataset, data, split, cfg.paths.cache_dir)
    evaluator = evaluator.for_split(split, cfg.evaluation.refit, beyond)
    stats = statistics(data)
    log.info("dataset %s: %s; split %s", cfg.dataset.name, stats, split.counts())

    def build_model():
        pl.seed_everything(cfg.seed, workers=True)
        return build(plugin_node(cfg.model), "model", n_users=data.n_users, n_items=data.n_items,
                     **model_feature_kwargs(cfg.model, data, cfg.dataset.name))

    model = build_model()
    logger = build_logger(cfg)
    if logger is not None:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    if is_fit_model(model):
        if privacy is not None:
            check_private_model(model)  # fitted models are not trained by DP-SGD: one clear error
        outcome = run_fit_model(model, split, evaluator, fit_device(cfg.trainer), cfg.evaluation.refit)
    else:
        training = GradientTraining(cfg.trainer, cfg.evaluation.monitor, cfg.evaluation.patience,
                                    cfg.evaluation.refit, cfg.seed, output_dir, logger,
                                    tuple(extra_callbacks or ()), resume_from, privacy)
        outcome = run_gradient_model(model, split, evaluator, training, build_model)

    record = make_record(cfg, data, split, model, outcome, stats, split_file)
    record.encoder = encoder_record.to_dict() if encoder_record else None
    if beyond is not None and beyond.groupings:
        record.fairness = {stage: fairness_report(result.users, result.per_user, beyond.groupings)
                           for stage, result in (("valid", outcome.valid), ("test", outcome.test))}
    if outcome.is_global_zero:
        # The weights that were tested (best epoch, or the refitted model), for `recbench recommend`.
        tested = model if outcome.tested_model is None else outcome.tested_model
        write_checkpoint(output_dir / MODEL_CHECKPOINT, tested.state_dict())
        record.artifacts["checkpoint"] = MODEL_CHECKPOINT
        save_run(output_dir, record, data, split, outcome.test)
        close_logger(logger, record, output_dir)
        print_table(record, output_dir)
    return record


def build_beyond(evaluation: DictConfig, dataset: DictConfig, data: Interactions, split: SplitData,
                 cache_dir: str | None) -> BeyondAccuracy | None:
    """The beyond-accuracy metrics' popularity, features and groups, or None when none are asked for.

    Popularity comes from the training part of the split (also under ``evaluation.refit``).
    """
    names, groups = evaluation.get("beyond"), evaluation.get("user_groups")
    if not names and not groups:
        return None
    item_features, user_features = load_beyond_features(evaluation, dataset, data, cache_dir)
    return BeyondAccuracy(names, split.train, item_features, user_features, evaluation.get("item_field", "genres"),
                          groups, evaluation.get("activity_bins", 3), dataset.name, evaluation.get("head_share", 0.2))


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
        evaluation={**protocol_record(cfg.evaluation), **candidates_record(split, cfg.evaluation)},
        metrics={**outcome.valid.summary("valid"), **outcome.test.summary("test")},
        timing=Timing(outcome.train_seconds, outcome.eval_seconds, outcome.epochs, outcome.best_epoch,
                      outcome.refit_epochs),
        config=OmegaConf.to_container(cfg, resolve=True),
        versions=library_versions(),
        git_revision=git_revision(),
        artifacts={"per_user_test": "per_user_test.parquet"},
        privacy=outcome.privacy,
    )


def candidates_record(split: SplitData, evaluation: DictConfig) -> dict:
    """What results.json says about the candidate set and the item segments."""
    if split.candidates == "cold_items":
        candidates = ("cold_items: each target is ranked among the stage's cold items (no training "
                      "interaction); stage/all/<metric> ranks the same targets among all items")
    else:
        candidates = "all: each target is ranked among all items the user has not interacted with"
    return {"candidates": candidates, "segments": {
        "keys": "stage/<segment>/<metric>@k, segment in warm, cold, head, tail",
        "head_share": float(evaluation.get("head_share", 0.2))}}


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


def print_table(record: RunRecord, output_dir: Path) -> None:
    """The run's last lines: its test metrics, its cost and where its results.json is."""
    timing = record.timing
    cost = f"train {timing.train_seconds:.1f} s"
    if timing.epochs is not None and timing.best_epoch is not None:
        cost += f", {timing.epochs} epochs, best {timing.best_epoch + 1}"
    metrics = record.stage_metrics("test")
    # Accuracy and coverage; segments get a line each below, beyond-accuracy metrics stay in results.json.
    overall = {name: value for name, value in metrics.items()
               if name.split("@")[0] in (*PER_USER_METRICS, "coverage")}
    lines = [f"test metrics of {record.model} on {record.dataset} ({cost}, evaluation {timing.eval_seconds:.1f} s):",
             *metrics_table(overall)]
    for segment in SEGMENTS:  # one line per item segment: its ndcg at every cut-off
        values = {name.split("/", 1)[1]: value for name, value in metrics.items()
                  if name.startswith(f"{segment}/ndcg@")}
        if values:
            lines.append(f"  {segment + ' items':<16} " + ", ".join(f"{n} {v:.4f}" for n, v in values.items()))
    lines.append(f"results: {relative(output_dir / RESULTS_FILE)}")
    print("\n".join(lines), flush=True)


def main(cfg: DictConfig) -> float | list[float | None] | None:
    """Hydra's task function: run, and return the metric a sweep optimises.

    The value is that of ``evaluation.monitor`` (``optimized_metric`` is derived from it); a
    multi-objective sweep lists further objectives after it in ``optimized_metric``, metrics or
    timings (``timing/train_seconds``), and gets a list of values.
    A :class:`RecbenchError` ends a single run with its message and exit status 1; in a
    multirun it is raised so the sweeper can record the failed trial and go on. With
    ``skip_incompatible`` (the benchmark preset) a model that cannot run on the dataset or split
    (:class:`IncompatibleError`) is skipped with a warning and no result.
    """
    quiet_third_party()
    try:
        record = train(cfg, extra_callbacks=trial_callbacks(cfg))
    except IncompatibleError as error:
        if not cfg.get("skip_incompatible", False):
            return _fail(error)
        log.warning("skipped: %s", error)
        return None
    except RecbenchError as error:
        return _fail(error)
    values = record.objective_values()
    names = cfg.get("optimized_metric")
    if OmegaConf.is_list(names):
        return [values.get(name) for name in names]
    return values.get(names)


def _fail(error: RecbenchError):
    """Exit 1 with the message in a single run; raise in a multirun (the sweeper records it)."""
    multirun = HydraConfig.initialized() and getattr(HydraConfig.get().mode, "name", None) == "MULTIRUN"
    if multirun:
        raise error
    print(f"error: {error}", file=sys.stderr, flush=True)  # once: the message is the whole story
    sys.exit(1)
