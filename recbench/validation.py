"""The whole run config checked in one place, before any data is read or any run is logged.

Each check here is one a component cannot make itself before the expensive work starts: a value
that is only read after loading or training (the monitored metric, the accelerator), a value no
single component owns (the output folder), or one whose owner is built only after the data is
read (the download source). Components still validate their own arguments when built; this
module makes the common mistakes fail in the first second with one message.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from recbench.errors import RecbenchError, require, require_positive
from recbench.evaluation.metrics import PER_USER_METRICS

GPU_ACCELERATORS = ("gpu", "cuda")


def validate_config(cfg: DictConfig) -> None:
    """Check the run config and the output folder; raise one :class:`RecbenchError` on the first fault.

    Raises:
        RecbenchError: missing mandatory values (all of them, in one message), impossible values,
            an accelerator the machine lacks, a refused download source, an output folder that
            cannot be written.
    """
    check_missing(cfg)
    check_training(cfg)
    check_evaluation(cfg.evaluation, cfg.get("optimized_metric"))
    check_dataset(cfg.dataset)
    check_output_dir(Path(cfg.paths.output_dir))


def check_missing(cfg: DictConfig) -> None:
    """Every ``???`` value still unset, named together (Hydra would stop at the first, with a traceback)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise RecbenchError(f"missing mandatory value(s): {', '.join(missing)}. Set them on the command line, "
                            f"e.g. {missing[0]}=...")


def check_training(cfg: DictConfig) -> None:
    """Trainer settings: epochs, and an accelerator this machine has."""
    require_positive("trainer.max_epochs", cfg.trainer.get("max_epochs"), integer=True)
    if cfg.get("threads") is not None:
        require_positive("threads", cfg.threads, integer=True)
    accelerator = str(cfg.trainer.get("accelerator", "cpu")).lower()
    if accelerator in GPU_ACCELERATORS:
        import torch

        require(torch.cuda.is_available(),
                f"trainer.accelerator={accelerator}, but this machine has no usable CUDA GPU "
                f"(torch {torch.__version__}): use trainer=cpu, or run where a GPU is visible")
        devices = cfg.trainer.get("devices", 1)
        if isinstance(devices, int) and devices > torch.cuda.device_count():
            raise RecbenchError(f"trainer.devices={devices}, but only {torch.cuda.device_count()} GPU(s) are "
                                "visible: lower trainer.devices")


def check_evaluation(evaluation: DictConfig, optimized=None) -> None:
    """Cut-offs, batch size, patience, and a monitored metric that will exist."""
    ks = list(evaluation.ks)
    require(len(ks) > 0 and all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in ks),
            f"evaluation.ks must be a list of positive integers, got {ks}")
    require_positive("evaluation.batch_size", evaluation.batch_size, integer=True)
    require_positive("evaluation.patience", evaluation.patience + 1, integer=True)
    check_monitor(evaluation.monitor, ks, optimized)


def check_monitor(monitor: str, ks: list[int], optimized) -> None:
    """``evaluation.monitor`` names a validation metric the run computes; a sweep optimises it.

    ``optimized_metric`` is derived from it (``${evaluation.monitor}``); a multi-objective sweep may
    list further objectives after it, but a single different name would make the checkpoint and the
    search optimise different things.
    """
    stage, _, metric = str(monitor).partition("/")
    name, _, k = metric.partition("@")
    require(stage == "valid" and name in (*PER_USER_METRICS, "coverage") and k.isdigit() and int(k) in ks,
            f"evaluation.monitor={monitor!r} must name a validation metric the run computes, "
            f"'valid/<metric>@<k>' with k in evaluation.ks={ks} and a metric of "
            f"{[*PER_USER_METRICS, 'coverage']}, e.g. valid/ndcg@{ks[0]}")
    names = list(optimized) if OmegaConf.is_list(optimized) or isinstance(optimized, list) else [optimized]
    require(optimized is None or names[0] == monitor,
            f"optimized_metric={names if len(names) > 1 else names[0]!r} disagrees with evaluation.monitor="
            f"{monitor!r}: set evaluation.monitor (the sweep optimises it); to add objectives, list "
            f"them after it: optimized_metric=[{monitor},timing/train_seconds]")


def check_dataset(dataset: DictConfig) -> None:
    """The download source, refused before anything is read rather than after a search."""
    from recbench.data.download import check_url

    if dataset.get("url") and dataset.get("download", True):
        check_url(dataset.url, dataset.get("sha256"))


def check_output_dir(folder: Path) -> None:
    """The output folder exists or can be made, and a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise RecbenchError(f"the output folder {str(folder)!r} cannot be written ({error.strerror or error}): "
                            "choose another with hydra.run.dir=... or fix its permissions") from None
