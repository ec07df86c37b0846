"""The sweep loop: ask Optuna for trials, launch them as Hydra jobs, tell Optuna how they ended.

Each trial is a normal recbench run in ``<sweep dir>/<trial number>/`` (results.json and all).
The study lives in a storage, so a rerun of the same command resumes it and several workers
(processes or machines) can share it: ``n_trials`` is the study's total, and every worker stops
when the study holds that many trials.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.types import Quote, QuotedString
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import Trial, TrialState

from recbench.errors import RecbenchError, require
from recbench.sweep.liveness import heartbeat, interrupt_on_sigterm, mark_interrupted
from recbench.sweep.pruning import TRIAL_ENV, trial_reference
from recbench.sweep.space import SearchSpace, parse_space
from recbench.sweep.study import (FAIL_REASON, OUTPUT_DIR, OVERRIDES, SURPLUS, counts_towards_budget,
                                  masked, open_storage, open_study, resolve_storage, trial_id)
from recbench.sweep.summary import SUMMARY_FILE, format_summary, summarize, write_summary

log = logging.getLogger("recbench.sweep")


class OptunaSweep:
    """What :class:`~hydra_plugins.recbench_optuna_sweeper.optuna_sweeper.RecbenchOptunaSweeper` runs.

    Args: the fields of ``OptunaSweeperConf`` (``hydra.sweeper``).
    """

    def __init__(self, sampler: DictConfig, pruner: DictConfig, direction: Any, n_trials: int, n_jobs: int,
                 study_name: str | None, storage: str | None, load_if_exists: bool,
                 heartbeat_interval: int | None, params: DictConfig | None):
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        directions = list(direction) if OmegaConf.is_list(direction) or isinstance(direction, list) else [direction]
        for d in directions:
            require(d in ("maximize", "minimize"), f"hydra.sweeper.direction: {d!r} is neither maximize nor minimize")
        require(isinstance(n_trials, int) and n_trials > 0, f"hydra.sweeper.n_trials must be >= 1, got {n_trials}")
        require(isinstance(n_jobs, int) and n_jobs > 0, f"hydra.sweeper.n_jobs must be >= 1, got {n_jobs}")
        self.directions = directions
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.study_name, self.storage, self.load_if_exists = study_name, storage, load_if_exists
        self.heartbeat_interval = heartbeat_interval
        self.params = OmegaConf.to_container(params) if params is not None else {}
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    # -- the loop ------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> dict:
        """Run the study to ``n_trials``; returns the summary written to optimization_results.yaml."""
        sweep_dir = Path(self.config.hydra.sweep.dir).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        space = parse_space(self.params, arguments)
        objectives = self._objectives()
        self._check_composes(space)
        spec = resolve_storage(self.storage, sweep_dir)
        storage = open_storage(spec, self.heartbeat_interval)
        name = self.study_name or self._default_study_name()
        study = open_study(storage, spec, name, self.directions, objectives, space.describe(),
                           self._sampler(space, seed=self.sampler_cfg.get("seed")), instantiate(self.pruner_cfg),
                           self.load_if_exists)
        budget = self._budget(space)
        log.info("study %s in %s: %d of %d trials to go, %s", name, masked(spec),
                 budget - sum(map(counts_towards_budget, study.get_trials(deepcopy=False))), budget,
                 {k: str(v) for k, v in space.distributions.items()})

        # Job returns are not kept: a crashed trial's exception holds its frames (and, after an
        # out-of-memory error, its tensors) alive.
        with interrupt_on_sigterm():
            while batch := self._ask(study, space, spec, budget):
                self._run(study, storage, batch)

        summary = summarize(study, objectives, masked(spec))
        write_summary(sweep_dir / SUMMARY_FILE, summary)
        print(format_summary(summary), flush=True)
        return summary

    def _ask(self, study: optuna.Study, space: SearchSpace, spec: str, budget: int) -> list[tuple[Trial, list[str]]]:
        """Up to ``n_jobs`` new trials with their overrides; empty when the study is complete."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # trials of killed workers (SQL storages)
        counted = sum(map(counts_towards_budget, study.get_trials(deepcopy=False)))
        batch: list[tuple[Trial, list[str]]] = []
        try:
            for _ in range(min(self.n_jobs, budget - counted)):
                if not self._ask_one(study, space, spec, budget, batch):
                    break
        except BaseException:
            mark_interrupted(study, [trial for trial, _ in batch])
            raise
        return batch

    def _ask_one(self, study: optuna.Study, space: SearchSpace, spec: str, budget: int,
                 batch: list[tuple[Trial, list[str]]]) -> bool:
        """Ask for one trial and append it with its overrides to ``batch``; False if it is surplus."""
        with warnings.catch_warnings():  # heartbeats work with ask-and-tell too: see _heartbeat
            warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
            trial = study.ask()
        # Another worker may have asked at the same instant: trial numbers decide who runs.
        earlier = sum(counts_towards_budget(t) for t in study.get_trials(deepcopy=False)
                      if t.number < trial.number)
        if earlier >= budget:
            trial.set_user_attr(SURPLUS, True)
            study.tell(trial, state=TrialState.FAIL)
            return False
        seed = self.sampler_cfg.get("seed")
        if seed is not None and not self._is_grid():
            # Seeded by trial number: workers sharing a study with one seed still sample
            # different points, and a rerun of the same study samples the same ones. (The grid
            # sampler needs no reseeding: its first trials take grid points by trial number.)
            study.sampler = self._sampler(space, seed=seed + trial.number)
        params = space.suggest(trial)
        overrides = space.overrides(params)
        trial.set_user_attr(OVERRIDES, overrides)
        log.info("trial %d: %s", trial.number, " ".join(overrides[len(space.fixed):]))
        batch.append((trial, overrides + self._trial_overrides(trial, study.study_name, spec)))
        return True

    def _run(self, study: optuna.Study, storage, batch: list[tuple[Trial, list[str]]]) -> None:
        """Launch one batch and tell the study how each trial ended."""
        launchable = []
        for trial, overrides in batch:
            try:  # a sampled value the config rejects (wrong type, ...) fails this trial only
                self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            except Exception as error:
                self._fail(study, trial, f"the config does not accept these values: {error}")
                continue
            launchable.append((trial, overrides))
        if not launchable:
            return
        try:
            with heartbeat(storage, [trial_id(storage, study.study_name, trial.number) for trial, _ in launchable]):
                returns = self.launcher.launch([overrides for _, overrides in launchable],
                                               initial_job_idx=launchable[0][0].number)
        except BaseException:
            mark_interrupted(study, [trial for trial, _ in launchable])
            raise
        for (trial, _), job in zip(launchable, returns):
            self._tell(study, trial, job)

    def _tell(self, study: optuna.Study, trial: Trial, job: JobReturn) -> None:
        if job.hydra_cfg is not None:
            trial.set_user_attr(OUTPUT_DIR, job.hydra_cfg.hydra.runtime.output_dir)
        try:
            value = job.return_value  # raises the run's exception
        except optuna.TrialPruned as pruned:
            log.info("trial %d: %s", trial.number, pruned)
            study.tell(trial, state=TrialState.PRUNED)
            return
        except Exception as error:
            self._fail(study, trial, f"{type(error).__name__}: {error}")
            return
        values = list(value) if isinstance(value, (list, tuple)) or OmegaConf.is_list(value) else [value]
        if len(values) != len(self.directions):
            self._fail(study, trial, f"the run returned {len(values)} values for {len(self.directions)} "
                                     "directions: give optimized_metric one name per hydra.sweeper.direction")
        elif not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            self._fail(study, trial, f"the run returned {values} for optimized_metric "
                                     f"{self.config.get('optimized_metric')}: a metric name that the run "
                                     "does not produce, or a non-finite value")
        else:
            study.tell(trial, [float(v) for v in values])
            log.info("trial %d: %s", trial.number, values if len(values) > 1 else values[0])

    @staticmethod
    def _fail(study: optuna.Study, trial: Trial, reason: str) -> None:
        log.warning("trial %d failed: %s", trial.number, reason)
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)

    # -- pieces --------------------------------------------------------------------------------
    def _objectives(self) -> list[str]:
        metric = self.config.get("optimized_metric")
        names = list(metric) if OmegaConf.is_list(metric) else [metric]
        require(len(names) == len(self.directions),
                f"optimized_metric {names} has {len(names)} names but hydra.sweeper.direction has "
                f"{len(self.directions)} entries {self.directions}: give one direction per metric")
        return [str(n) for n in names]

    def _default_study_name(self) -> str:
        model = self.config.hydra.runtime.choices.get("model") or "run"
        return f"{model}-{OmegaConf.select(self.config, 'dataset.name', default='data')}"

    def _budget(self, space: SearchSpace) -> int:
        if not space.distributions:
            log.info("the search space is empty: one trial is enough")
            return 1
        if self._is_grid():
            size = math.prod(len(values) for values in space.grid().values())
            if size < self.n_trials:
                log.info("the grid has %d points: n_trials %d lowered to %d", size, self.n_trials, size)
            return min(size, self.n_trials)
        return self.n_trials

    def _is_grid(self) -> bool:
        return issubclass(get_class(self.sampler_cfg._target_), optuna.samplers.GridSampler)

    def _sampler(self, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
        if self._is_grid():
            return instantiate(self.sampler_cfg, search_space=space.grid(), seed=seed)
        return instantiate(self.sampler_cfg, seed=seed)

    def _trial_overrides(self, trial: Trial, study_name: str, spec: str) -> list[str]:
        """Per-trial Hydra overrides: the trial's directory, its Optuna link, its W&B group."""
        reference = QuotedString(trial_reference(spec, study_name, trial.number), Quote.single).with_quotes()
        overrides = [f"hydra.sweep.subdir={trial.number}", f"++hydra.job.env_set.{TRIAL_ENV}={reference}"]
        if "group" in (self.config.get("logger") or {}):
            overrides.append(f"logger.group={QuotedString(study_name, Quote.single).with_quotes()}")
        return overrides

    def _check_composes(self, space: SearchSpace) -> None:
        """Compose one config with every parameter at a value of its range before any trial runs.

        A misspelt key would otherwise fail every trial, one after the other.
        """
        values = {}
        for name, dist in space.distributions.items():
            values[name] = dist.choices[0] if hasattr(dist, "choices") else dist.low
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, space.overrides(values))
        except Exception as error:
            raise RecbenchError(f"the search space does not fit the config: {error}. Check the keys in "
                                "hydra.sweeper.params and on the command line") from None
