"""Leaderboards: rank finished runs across models, seeds and datasets, with spread and significance.

``collect`` reads results.json files, ``grouping`` decides which runs repeat one configuration,
``table`` ranks the groups, ``significance`` tests them against the best, ``formats``/``report``
export, ``wandb_io`` reads from and pushes to W&B, ``callback`` prints it after a Hydra multirun.
"""

from __future__ import annotations

import importlib

__all__ = ["Leaderboard", "build_leaderboard", "collect_runs"]

_HOMES = {"Leaderboard": "table", "build_leaderboard": "table", "collect_runs": "collect"}


def __getattr__(name: str):
    # Imported on first use (PEP 562): Hydra builds the leaderboard callback at the start of
    # every run, single runs included, and the table's statistics (scipy) cost a second.
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
