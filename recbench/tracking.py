"""The run's experiment tracker: built from ``cfg.logger``, closed with the run's results.

For Weights & Biases this adds what the config alone cannot say: the ``group`` of a multirun or
sweep (its sweep folder, unless ``logger.group`` is set), tags naming the model, dataset and split,
the final metrics in the run summary, results.json and the per-user vectors as run files (so the
leaderboard can rebuild a table from W&B), and an explicit finish, so that the next job of a
multirun in the same process starts its own run. Offline runs stay syncable with ``wandb sync``.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from recbench.config import build
from recbench.plugin import model_name
from recbench.record import RunRecord
from recbench.results import RESULTS_FILE

WANDB_TARGET = "pytorch_lightning.loggers.WandbLogger"


def component_names(cfg: DictConfig) -> dict[str, str]:
    """The names users typed (``model=mlp``), or names derived from the ``_target_``."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return {"model": choices.get("model") or model_name(cfg.model._target_),
            "split": choices.get("split") or cfg.split._target_.rsplit(".", 1)[-1],
            "dataset": cfg.dataset.name}


def _is_wandb(logger) -> bool:
    target = logger.get("_target_", "") if isinstance(logger, DictConfig) else type(logger).__module__
    return "wandb" in str(target).lower()


def sweep_group() -> str | None:
    """The sweep folder of a multirun (every job of one ``-m`` call shares it), else None."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    multirun = hydra.mode is not None and hydra.mode.name == "MULTIRUN"
    return str(hydra.sweep.dir) if multirun else None


def wandb_arguments(cfg: DictConfig) -> dict:
    """Group, tags and name for ``WandbLogger``, where the config leaves them open."""
    names = component_names(cfg)
    tags = [str(t) for t in cfg.logger.get("tags") or []]
    tags += [tag for tag in (f"model:{names['model']}", f"dataset:{names['dataset']}",
                             f"split:{names['split']}") if tag not in tags]
    arguments = {"tags": tags}
    group = cfg.logger.get("group") or sweep_group()
    if group:
        arguments["group"] = group
    if not cfg.logger.get("name"):
        arguments["name"] = f"{names['model']}-{names['dataset']}-seed{cfg.seed}"
    return arguments


def build_logger(cfg: DictConfig):
    """The configured Lightning logger, or None when ``logger=none``."""
    if not cfg.get("logger"):
        return None
    if not _is_wandb(cfg.logger):
        return build(cfg.logger, "logger")
    import wandb

    if wandb.run is not None:
        # Left open by an earlier job of this process that failed before it could finish.
        wandb.finish(exit_code=1)
    return build(cfg.logger, "logger", **wandb_arguments(cfg))


def close_logger(logger, record: RunRecord, output_dir: Path) -> None:
    """Log the final metrics, write the W&B summary and files, and finish the run."""
    if logger is None:
        return
    summary = record.summary()
    logger.log_metrics({key: value for key, value in summary.items() if isinstance(value, (int, float))
                        and key not in ("seed", "n_params", "schema_version")})
    if _is_wandb(logger):
        run = logger.experiment
        run.summary.update(summary)
        for name in (RESULTS_FILE, *record.artifacts.values()):
            if (output_dir / name).is_file():
                run.save(str(output_dir / name), base_path=str(output_dir), policy="now")
    logger.finalize("success")
    if _is_wandb(logger):
        logger.experiment.finish()
