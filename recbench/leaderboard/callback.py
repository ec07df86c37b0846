"""A Hydra callback that prints the leaderboard of a multirun when it ends.

Configured in ``conf/experiment/benchmark.yaml`` under ``hydra.callbacks``; it reads the
results.json files the jobs wrote under the sweep folder and writes ``leaderboard.md``,
``leaderboard.csv`` and ``leaderboard.html`` beside them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from recbench.errors import RecbenchError
from recbench.leaderboard.collect import collect_runs
from recbench.leaderboard.export import write_export
from recbench.leaderboard.formats import to_markdown
from recbench.leaderboard.table import build_leaderboard

log = logging.getLogger("recbench.leaderboard")


class LeaderboardCallback(Callback):
    """Build, print and export the leaderboard of the multirun's sweep folder.

    Args:
        sort: metric to rank by.
        test: ``ttest``, ``wilcoxon`` or ``none``.
        alpha: significance level after Holm's correction.
        columns: glob patterns of the metrics to show (None: test recall and NDCG).
        exports: file names written into the sweep folder; the suffix picks the format.
    """

    def __init__(self, sort: str = "test/ndcg@10", test: str = "ttest", alpha: float = 0.05,
                 columns: list[str] | None = None, exports: list[str] | None = None):
        self.sort, self.test, self.alpha = sort, test, alpha
        self.columns = list(columns) if columns else None
        self.exports = list(exports) if exports is not None else ["leaderboard.md", "leaderboard.html"]

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            board = build_leaderboard(collect_runs([sweep_dir]), sort=self.sort, columns=self.columns,
                                      test=None if self.test == "none" else self.test, alpha=self.alpha)
        except RecbenchError as error:
            # The jobs' own results are on disk already; a leaderboard failure must not hide them.
            log.error("no leaderboard for %s: %s", sweep_dir, error)
            return
        for warning in board.warnings:
            log.warning("%s", warning)
        print(f"\nleaderboard of {sweep_dir}:\n\n{to_markdown(board)}", flush=True)
        for name in self.exports:
            log.info("wrote %s", write_export(board, sweep_dir / name))
