"""Optuna's grid sampler, adapted to a sweep driven by ask and tell."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's :class:`~optuna.samplers.GridSampler` without its end-of-grid ``study.stop()``.

    Optuna stops ``study.optimize`` when the grid is exhausted, and that call raises outside
    ``optimize``. The recbench sweep instead caps ``n_trials`` at the grid size itself.
    """

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        pass
