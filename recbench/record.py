"""The run record: what one run produced, written once as results.json and read back everywhere.

:class:`RunRecord` is the only place that knows the layout of ``results.json`` and of the W&B run
summary. The run writes it (:mod:`recbench.experiment`), the tracker copies it into W&B
(:mod:`recbench.tracking`), and the leaderboard, the W&B import and the sweep summary read it back
through :meth:`RunRecord.load`, :meth:`RunRecord.from_json` and :meth:`RunRecord.from_summary`.

Reading is lenient where it can be: a file from an older schema is read as far as it goes, with a
warning through ``warn``; a file that is not a record at all raises :class:`RecordError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from recbench.results import RESULTS_FILE, write_json

SCHEMA_VERSION = 2
STAGES = ("valid", "test")
TIMING_KEYS = ("train_seconds", "eval_seconds", "epochs", "best_epoch", "refit_epochs")


class RecordError(ValueError):
    """A results file that cannot be read as a run record at all."""


def _ignore(message: str) -> None:
    pass


def _number(value, default=math.nan) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _integer(value) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _section(raw: dict, key: str) -> dict:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


@dataclass
class Timing:
    """Seconds and epochs of a run (epochs only for gradient models)."""

    train_seconds: float = math.nan
    eval_seconds: float = math.nan
    epochs: int | None = None        # epochs trained
    best_epoch: int | None = None    # 0-based epoch whose weights were tested
    refit_epochs: int | None = None  # epochs retrained on train + valid (evaluation.refit)

    @classmethod
    def from_json(cls, raw: dict) -> "Timing":
        return cls(_number(raw.get("train_seconds")), _number(raw.get("eval_seconds")),
                   _integer(raw.get("epochs")), _integer(raw.get("best_epoch")),
                   _integer(raw.get("refit_epochs")))


@dataclass
class RunRecord:
    """Everything a result needs to be trusted, reproduced and compared.

    Attributes:
        model: the plugin's name (``model=`` value); ``model_target`` its class, ``n_params`` its
            trainable parameter count (0 for fitted models).
        dataset: the dataset's name; ``fingerprint`` and ``stats`` describe the encoded data.
        split: the split protocol's name; ``split_config`` its settings, ``split_counts``
            interactions per role, ``split_cache_file`` the cached split it used.
        seed: the run's seed.
        metrics: ``stage/metric@k`` -> value, for the valid and test stages.
        timing: seconds and epochs.
        evaluation: how items were ranked (full ranking or sampled negatives).
        config: the resolved run config.
        versions: Python and library versions; ``git_revision`` the recbench commit.
        artifacts: other files of the run, by role (``per_user_test`` -> file name).
    """

    model: str
    dataset: str
    split: str
    seed: int | None
    metrics: dict[str, float]
    timing: Timing = field(default_factory=Timing)
    model_target: str | None = None
    n_params: int | None = None
    fingerprint: str | None = None
    stats: dict = field(default_factory=dict)
    split_config: dict = field(default_factory=dict)
    split_counts: dict = field(default_factory=dict)
    split_cache_file: str | None = None
    evaluation: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    git_revision: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # -- results.json ------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The results.json payload."""
        return {
            "schema_version": self.schema_version,
            "model": {"name": self.model, "target": self.model_target, "n_params": self.n_params},
            "dataset": {"name": self.dataset, "fingerprint": self.fingerprint, "stats": self.stats},
            "split": {"name": self.split, "config": self.split_config, "counts": self.split_counts,
                      "cache_file": self.split_cache_file},
            "seed": self.seed,
            "evaluation": self.evaluation,
            "metrics": self.metrics,
            "timing": asdict(self.timing),
            "config": self.config,
            "versions": self.versions,
            "git_revision": self.git_revision,
            "artifacts": self.artifacts,
        }

    @classmethod
    def from_json(cls, raw, warn: Callable[[str], None] = _ignore) -> "RunRecord":
        """Read a results.json payload, as far as an older schema goes.

        Raises:
            RecordError: ``raw`` is not an object or has no metrics.
        """
        if not isinstance(raw, dict):
            raise RecordError(f"expected a JSON object, found {type(raw).__name__}")
        version = raw.get("schema_version")
        if version is None:
            warn("no schema_version (written by an older recbench): read as far as it goes")
        elif version not in (1, SCHEMA_VERSION):
            warn(f"schema_version {version}, this recbench reads {SCHEMA_VERSION}: read as far as it goes")
        metrics = raw.get("metrics")
        if not isinstance(metrics, dict) or not metrics:
            raise RecordError("it has no metrics")
        config = _section(raw, "config")
        if not config:
            warn("no resolved config, so runs are grouped by model, dataset and split only")
        # Schema 0 kept plain names where later schemas keep objects.
        model, dataset, split = (raw.get(key) if isinstance(raw.get(key), dict) else {"name": raw.get(key)}
                                 for key in ("model", "dataset", "split"))
        seed = raw.get("seed", config.get("seed"))
        return cls(
            model=str(model.get("name") or (config.get("model") or {}).get("_target_", "unknown")),
            dataset=str(dataset.get("name") or (config.get("dataset") or {}).get("name", "unknown")),
            split=str(split.get("name") or "unknown"),
            seed=_integer(seed),
            metrics={key: _number(value) for key, value in metrics.items()},
            timing=Timing.from_json(_section(raw, "timing")),
            model_target=model.get("target"),
            n_params=_integer(model.get("n_params")),
            fingerprint=dataset.get("fingerprint"),
            stats=dataset.get("stats") or {},
            split_config=split.get("config") or {},
            split_counts=split.get("counts") or {},
            split_cache_file=split.get("cache_file"),
            evaluation=_section(raw, "evaluation"),
            config=config,
            versions=_section(raw, "versions"),
            git_revision=raw.get("git_revision"),
            artifacts={str(k): str(v) for k, v in _section(raw, "artifacts").items()},
            schema_version=version if isinstance(version, int) else 0,
        )

    def save(self, folder: Path) -> Path:
        """Write ``folder/results.json`` atomically; returns its path."""
        path = Path(folder) / RESULTS_FILE
        write_json(path, self.to_json())
        return path

    @classmethod
    def load(cls, path: Path, warn: Callable[[str], None] = _ignore) -> "RunRecord":
        """Read a results.json file (or the one in a run folder).

        Raises:
            RecordError: the file is unreadable, not JSON, or not a run record.
        """
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS_FILE
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RecordError(f"not readable as JSON (corrupt or truncated?): {error}") from None
        return cls.from_json(raw, warn)

    # -- the W&B run summary -----------------------------------------------------------------
    def summary(self) -> dict:
        """The flat W&B run summary: metrics, timings and the names the leaderboard groups by."""
        timing = {key: value for key, value in asdict(self.timing).items()
                  if value is not None and not (isinstance(value, float) and math.isnan(value))}
        return {**self.metrics, **timing, "n_params": self.n_params, "model": self.model,
                "dataset": self.dataset, "split": self.split, "seed": self.seed,
                "schema_version": self.schema_version}

    @classmethod
    def from_summary(cls, config: dict, summary: dict) -> "RunRecord":
        """Rebuild a record from a W&B run's config and summary (no per-user vectors, no artifacts)."""
        metrics = {key: value for key, value in summary.items()
                   if isinstance(key, str) and key.split("/", 1)[0] in STAGES and isinstance(value, (int, float))}
        if not metrics:
            raise RecordError("the W&B run summary has no valid/ or test/ metrics")
        return cls(
            model=str(summary.get("model") or "unknown"),
            dataset=str(summary.get("dataset") or (config.get("dataset") or {}).get("name", "unknown")),
            split=str(summary.get("split") or "unknown"),
            seed=_integer(summary.get("seed", config.get("seed"))),
            metrics={key: float(value) for key, value in metrics.items()},
            timing=Timing.from_json({key: summary.get(key) for key in TIMING_KEYS}),
            n_params=_integer(summary.get("n_params")),
            config=config,
        )

    # -- views -------------------------------------------------------------------------------
    def objective_values(self) -> dict[str, float | int | None]:
        """Metrics and ``timing/<key>`` values: what a sweep may optimise."""
        return {**self.metrics, **{f"timing/{key}": value for key, value in asdict(self.timing).items()}}

    def stage_metrics(self, stage: str) -> dict[str, float]:
        """``metric@k`` -> value for one stage."""
        prefix = f"{stage}/"
        return {key.removeprefix(prefix): value for key, value in self.metrics.items() if key.startswith(prefix)}
