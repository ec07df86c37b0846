"""What a run prints: progress bars on a terminal, one line per epoch in a log, no banners.

Lightning announces the accelerator, "Seed set", checkpoint restores and tips at INFO level,
and W&B prints a header and a footer of its own; none of it helps a user read the result.
:func:`quiet_third_party` turns those down (warnings from recbench itself stay), and
:class:`EpochLine` replaces the progress bar when the output is not a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl

log = logging.getLogger("recbench")

# Loggers of the libraries that announce routine events at INFO level.
THIRD_PARTY_LOGGERS = ("pytorch_lightning", "lightning", "lightning_fabric", "lightning.pytorch",
                       "lightning.fabric", "wandb")
# Warnings that describe choices recbench makes on purpose, not problems in a run.
EXPECTED_WARNINGS = (
    # recbench's batches are built as whole tensors in the main process: workers would only copy them.
    r".*does not have many workers.*",
    # Evaluation batches are users, not samples: Lightning cannot infer a batch size and need not.
    r".*Trying to infer the `batch_size`.*",
    # train/loss is logged once per epoch, so the step logging interval does not matter.
    r".*smaller than the logging interval.*",
    # Lightning suggests `sync_dist=True`; the evaluator's metrics are already gathered over processes.
    r".*It is recommended to use `self\.log\(.*sync_dist=True`.*",
)


def quiet_third_party() -> None:
    """Lower third-party loggers to WARNING and ignore the warnings in :data:`EXPECTED_WARNINGS`.

    Call it after Lightning is imported: importing it sets its logger back to INFO.
    """
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    # Deprecations inside the libraries recbench calls are for their maintainers, not for users
    # (recbench's own code is checked by its tests, where these filters do not apply).
    for module in (r"pytorch_lightning(\..*)?", r"lightning_fabric(\..*)?", r"lightning(\..*)?",
                   r"wandb(\..*)?", r"torch(\..*)?"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)


def progress_bars_wanted(setting: bool | None, stream=None) -> bool:
    """``trainer.enable_progress_bar``: true or false as set; null for "only on a terminal"."""
    if setting is not None:
        return bool(setting)
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def relative(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies inside it (shorter to read and paste)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def metrics_table(metrics: dict[str, float]) -> list[str]:
    """``{"ndcg@10": .., "ndcg@20": .., ...}`` as lines of a table: one row per metric, one column per K.

    Metrics without ``@K`` get a row of their own after the table.
    """
    ks: dict[str, None] = {}
    rows: dict[str, dict[str, float]] = {}
    plain = []
    for name, value in metrics.items():
        metric, at, k = name.partition("@")
        if not at:
            plain.append(f"  {name:<14} {value:.4f}")
            continue
        ks[k] = None
        rows.setdefault(metric, {})[k] = value
    lines = ["  " + " " * 14 + "".join(f"{'@' + k:>9}" for k in ks)] if rows else []
    for metric, values in rows.items():
        cells = "".join(f"{values[k]:>9.4f}" if k in values else f"{'-':>9}" for k in ks)
        lines.append(f"  {metric:<14}{cells}")
    return lines + plain


class EpochLine(pl.Callback):
    """Logs one line per training epoch: epoch, train loss, the monitored metric, seconds.

    ``epoch 3/30  train/loss 0.3121  valid/ndcg@10 0.1840 *  1.9 s``: ``*`` marks a new best.
    Used instead of the progress bar when the output is not a terminal.

    Args:
        monitor: the validation metric early stopping watches, e.g. ``valid/ndcg@10``.
    """

    def __init__(self, monitor: str):
        self.monitor = monitor
        self._start = 0.0
        self._best: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning validates inside the training epoch, so both metrics are known here.
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        if "train/loss" in metrics:
            parts.append(f"train/loss {float(metrics['train/loss']):.4f}")
        if self.monitor in metrics:
            value = float(metrics[self.monitor])
            improved = self._best is None or value > self._best
            self._best = value if improved else self._best
            parts.append(f"{self.monitor} {value:.4f}{' *' if improved else '  '}")
        parts.append(f"{time.perf_counter() - self._start:.1f} s")
        log.info("  ".join(parts))
