"""The Hydra plugin class; the work is done in :mod:`recbench.sweep.sweeper`.

Hydra imports every module under ``hydra_plugins`` on every run, so optuna and the sweep logic
are imported only when a sweep starts.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig



class RecbenchOptunaSweeper(Sweeper):
    """Runs an Optuna study whose trials are recbench runs; see ``docs/sweeps.md``."""

    def __init__(self, **settings: Any) -> None:
        from recbench.sweep.sweeper import OptunaSweep

        self._sweep = OptunaSweep(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._sweep.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; a problem the user can fix ends it with one message and exit status 1."""
        import sys

        from recbench.errors import RecbenchError

        try:
            return self._sweep.sweep(arguments)
        except RecbenchError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            sys.exit(1)
