"""Leaderboards: rank finished runs across models, seeds and datasets, with spread and significance.

``collect`` reads results.json files, ``grouping`` decides which runs repeat one configuration,
``table`` ranks the groups, ``significance`` tests them against the best, ``formats``/``report``
export, ``wandb_io`` reads from and pushes to W&B, ``callback`` prints it after a Hydra multirun.
"""

from recbench.leaderboard.collect import collect_runs
from recbench.leaderboard.table import Leaderboard, build_leaderboard

__all__ = ["Leaderboard", "build_leaderboard", "collect_runs"]
