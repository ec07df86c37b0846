"""Where a study lives (storages) and which of its trials count towards ``n_trials``."""

from __future__ import annotations

import functools
import random
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from recbench.errors import RecbenchError, require

JOURNAL_PREFIX = "journal:"
DEFAULT_DB = "optuna.db"
_OPEN_ATTEMPTS = 3

# User attributes the sweep writes on trials.
FAIL_REASON = "fail_reason"  # a crashed run: counts as a finished (failed) trial
INTERRUPTED = "interrupted"  # the sweep was stopped while it ran: run again on resume
SURPLUS = "surplus"  # asked by a worker after the budget was met by others: never run
OVERRIDES = "overrides"
OUTPUT_DIR = "output_dir"
SEARCH_SPACE = "search_space"  # study attribute: the space, to refuse resuming with another one
OBJECTIVES = "objectives"


def resolve_storage(storage: str | None, sweep_dir: Path) -> str:
    """The storage spec with absolute paths: a SQLAlchemy URL or ``journal:<path>``.

    ``None`` means a SQLite file in the sweep directory.
    """
    if storage is None:
        return f"sqlite:///{(sweep_dir / DEFAULT_DB).resolve()}"
    if storage.startswith(JOURNAL_PREFIX):
        path = storage[len(JOURNAL_PREFIX):]
        require(path != "", "hydra.sweeper.storage=journal:<path> needs the path of the journal file")
        return JOURNAL_PREFIX + str(Path(path).expanduser().resolve())
    require("://" in storage, f"hydra.sweeper.storage={storage!r} is neither a SQLAlchemy URL "
                              "(sqlite:///study.db, postgresql://user@host/db) nor journal:<path>")
    return storage


def masked(spec: str) -> str:
    """The storage spec with any password hidden, for logs and result files."""
    if spec.startswith(JOURNAL_PREFIX):
        return spec
    from sqlalchemy.engine import make_url

    try:
        return make_url(spec).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by open_storage
        return spec


@functools.lru_cache(maxsize=None)
def open_storage(spec: str, heartbeat_interval: int | None = None) -> BaseStorage:
    """Open (once per process) the storage named by a :func:`resolve_storage` spec.

    Cached so that the trials a process runs reuse one connection pool.
    """
    if spec.startswith(JOURNAL_PREFIX):
        path = Path(spec[len(JOURNAL_PREFIX):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if spec.startswith("sqlite:///"):
        Path(spec[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # Workers sharing one SQLite file wait for each other's writes instead of failing.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    heartbeat = {}
    if heartbeat_interval:
        heartbeat = {"heartbeat_interval": heartbeat_interval, "grace_period": 2 * heartbeat_interval}
    # Workers that start together race to create the tables; a loser's retry finds them made.
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(spec, engine_kwargs=engine_kwargs, **heartbeat)
        except Exception as error:  # driver missing, server down, bad URL: all end the same way
            if attempt == _OPEN_ATTEMPTS - 1:
                hint = (" (install the database's driver, e.g. pip install 'psycopg[binary]' for postgresql://)"
                        if "DB access module" in str(error) else "")
                raise RecbenchError(f"cannot open the study storage {masked(spec)}: {error}{hint}. Check "
                                    "hydra.sweeper.storage (and that the database server is running)") from None
            time.sleep(1.0 + random.random())


def open_study(storage: BaseStorage, spec: str, name: str, directions: list[str], objectives: list[str],
               space: dict[str, str], sampler, pruner, load_if_exists: bool) -> optuna.Study:
    """Create the study, or load it when it exists and ``load_if_exists``.

    A loaded study must have the same directions, objectives and search space: resuming a study
    with a different space would mix trials that answer different questions.
    """
    try:
        study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner, study_name=name,
                                    directions=directions, load_if_exists=load_if_exists)
    except optuna.exceptions.DuplicatedStudyError:
        raise RecbenchError(f"study {name!r} already exists in {masked(spec)}: set "
                            "hydra.sweeper.load_if_exists=true to continue it, or choose another "
                            "hydra.sweeper.study_name") from None
    stored_directions = [d.name.lower() for d in study.directions]
    require(stored_directions == directions,
            f"study {name!r} in {masked(spec)} has directions {stored_directions}, this sweep {directions}: "
            "use another hydra.sweeper.study_name")
    for key, value in [(OBJECTIVES, objectives), (SEARCH_SPACE, space)]:
        stored = study.user_attrs.get(key)
        if stored is None:  # a new study (or one created by a worker an instant ago)
            study.set_user_attr(key, value)
        else:
            require(stored == value, f"study {name!r} in {masked(spec)} was run with {key} {stored}, "
                                     f"this sweep has {value}: use another hydra.sweeper.study_name")
    return study


def counts_towards_budget(trial: FrozenTrial) -> bool:
    """Whether a trial is one of the study's ``n_trials``.

    Finished, running and waiting trials count. A failed trial counts only when its run crashed
    (it has a ``fail_reason``); a trial that failed because its sweep was interrupted or killed
    (no heartbeat), or a surplus trial, does not, so a resumed sweep runs it again.
    """
    return trial.state != TrialState.FAIL or FAIL_REASON in trial.user_attrs


def trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` of a study, through the storage's public API.

    Optuna keeps a :class:`~optuna.trial.Trial`'s id private; heartbeats and a trial reopened in
    the run's process need it.
    """
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
