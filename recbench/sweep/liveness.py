"""Telling finished trials from trials whose sweep died: heartbeats, and stopping on a signal."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator

import optuna
from optuna.storages import RDBStorage
from optuna.trial import Trial, TrialState

from recbench.sweep.study import INTERRUPTED, trial_id

log = logging.getLogger("recbench.sweep")
OWNER = "owner"  # trial attribute: {"host", "pid"} of the sweep process that runs it


def record_owner(trial: Trial) -> None:
    """Note which process runs ``trial``, so a resumed sweep can tell at once if it died."""
    trial.set_user_attr(OWNER, {"host": socket.gethostname(), "pid": os.getpid()})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def fail_dead_trials(study: optuna.Study, storage) -> int:
    """Fail (as interrupted, so they are run again) running trials whose process is gone.

    Heartbeats find a dead trial only after two missed beats, and only on SQL storages; a sweep
    rerun right after a ``kill -9`` would count the dead trial as running and end short of
    ``n_trials``. A trial owned by a process on this host that no longer exists is dead now.
    Trials of other hosts are left to their heartbeats.

    Returns:
        How many trials were failed.
    """
    host = socket.gethostname()
    dead = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if isinstance(owner := t.user_attrs.get(OWNER), dict) and owner.get("host") == host
            and isinstance(owner.get("pid"), int) and not _alive(owner["pid"])]
    for trial in dead:
        with contextlib.suppress(Exception):  # told by another worker an instant ago
            number = trial_id(storage, study.study_name, trial.number)
            storage.set_trial_user_attr(number, INTERRUPTED, True)
            storage.set_trial_state_values(number, state=TrialState.FAIL)
            log.warning("trial %d: its sweep process %d is gone; failed, to be run again", trial.number,
                        trial.user_attrs[OWNER]["pid"])
    return len(dead)


def mark_interrupted(study: optuna.Study, trials: list[Trial]) -> None:
    """Ctrl-C or kill: these trials did not finish; a resumed sweep runs them again."""
    for trial in trials:
        with contextlib.suppress(Exception):  # already told, or the storage is gone: nothing to do
            trial.set_user_attr(INTERRUPTED, True)
            study.tell(trial, state=TrialState.FAIL)


@contextlib.contextmanager
def heartbeat(storage, trial_ids: list[int]) -> Iterator[None]:
    """Marks the trials alive while they run, so other workers can tell them from dead ones."""
    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            for ident in trial_ids:
                try:
                    storage.record_heartbeat(ident)
                except Exception as error:  # a missed beat is retried next interval
                    log.debug("heartbeat of trial id %d failed: %s", ident, error)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True, name="optuna-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """``kill`` stops the sweep like Ctrl-C does, so running trials are marked interrupted."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
