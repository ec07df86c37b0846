"""A Hydra callback that prints the leaderboard of a multirun when it ends.

Configured in ``conf/config.yaml`` under ``hydra.callbacks`` for every multirun (the benchmark
preset changes its settings); it reads the results.json files the jobs wrote under the sweep
folder, prints the table and writes the export files beside them. Hydra builds the callback at
the start of every run, so the leaderboard code is imported only when a multirun ends.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from recbench.errors import RecbenchError

log = logging.getLogger("recbench.leaderboard")


class LeaderboardCallback(Callback):
    """Build, print and export the leaderboard of the multirun's sweep folder.

    Args:
        sort: metric to rank by.
        test: ``ttest``, ``wilcoxon`` or ``none``.
        alpha: significance level after Holm's correction.
        columns: glob patterns of the metrics to show (None: test recall and NDCG).
        exports: file names written into the sweep folder; the suffix picks the format.
        top: print only the best ``top`` groups of each dataset/split (None: all); the export
            files always hold every group.
    """

    def __init__(self, sort: str = "test/ndcg@10", test: str = "ttest", alpha: float = 0.05,
                 columns: list[str] | None = None, exports: list[str] | None = None, top: int | None = None):
        self.sort, self.test, self.alpha = sort, test, alpha
        self.columns = list(columns) if columns else None
        self.exports = list(exports) if exports is not None else ["leaderboard.md", "leaderboard.html"]
        self.top = top

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from recbench.leaderboard.collect import collect_runs
        from recbench.leaderboard.export import write_export
        from recbench.leaderboard.formats import to_markdown
        from recbench.leaderboard.table import build_leaderboard

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
        shown, hidden = board, 0
        if self.top is not None and len(board.table) > self.top:
            shown = dataclasses.replace(board, table=board.table[board.table["rank"] <= self.top])
            hidden = len(board.table) - len(shown.table)
        if hidden:
            where = ", ".join(self.exports) if self.exports else f"recbench leaderboard {sweep_dir}"
            more = f"({hidden} more group{'s' if hidden != 1 else ''}: {where})\n"
        else:
            more = ""
        print(f"\nleaderboard of {sweep_dir}:\n\n{to_markdown(shown)}{more}", flush=True)
        written = [write_export(board, sweep_dir / name).name for name in self.exports]
        if written:
            print(f"wrote {', '.join(written)} in {sweep_dir}", flush=True)
