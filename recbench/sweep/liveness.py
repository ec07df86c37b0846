"""Telling finished trials from trials whose sweep died: heartbeats, and stopping on a signal."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import optuna
from optuna.storages import RDBStorage
from optuna.trial import Trial, TrialState

from recbench.sweep.study import INTERRUPTED

log = logging.getLogger("recbench.sweep")


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
            for trial_id in trial_ids:
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as error:  # a missed beat is retried next interval
                    log.debug("heartbeat of trial id %d failed: %s", trial_id, error)
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
