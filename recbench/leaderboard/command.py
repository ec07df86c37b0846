"""``recbench leaderboard``: rank finished runs and export the table."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from recbench.errors import RecbenchError

# Only what the parser needs is imported here: `recbench` builds every sub-command's parser, and the
# table's statistics (scipy.stats) would slow every other command down.
FORMATS = ("csv", "html", "latex", "markdown")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard", help="rank runs: mean ± std over seeds, significance, exports",
        description="Collect results.json files under run or multirun folders, group runs by their "
                    "configuration (all but the seed), rank the groups and mark those significantly "
                    "worse than the best one.")
    parser.add_argument("paths", nargs="*", default=[], metavar="PATH",
                        help="run or multirun folders (searched recursively), or results.json files")
    parser.add_argument("--wandb-project", metavar="ENTITY/PROJECT",
                        help="also read the finished runs of this W&B project (needs network access)")
    parser.add_argument("--sort", default="test/ndcg@10",
                        help="metric (or train_seconds, eval_seconds, n_params) to rank by [test/ndcg@10]")
    parser.add_argument("--ascending", action="store_true", default=None,
                        help="smaller is better (default only for the cost columns)")
    parser.add_argument("--columns", nargs="+", metavar="PATTERN",
                        help="metrics to show, glob patterns such as 'test/*@10' [test/ndcg@* test/recall@*]")
    parser.add_argument("--beyond", action="store_true",
                        help="add the beyond-accuracy columns (novelty, ARP, APLT, Gini, coverage, ILD, "
                             "calibration) at the sort metric's K")
    parser.add_argument("--groups", action="store_true",
                        help="also print per-user-group tables (runs made with evaluation.user_groups)")
    parser.add_argument("--dataset", nargs="+", metavar="NAME", help="keep only these datasets (globs)")
    parser.add_argument("--model", nargs="+", metavar="NAME", help="keep only these models (globs)")
    parser.add_argument("--test", choices=["ttest", "wilcoxon", "none"], default="ttest",
                        help="paired test over users against the best group [ttest]")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm [0.05]")
    parser.add_argument("--by-path", action="store_true",
                        help="runs under different PATHs form different groups (compare two code versions)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="what to print without -o [markdown]; with -o, the format of a FILE "
                             "whose suffix names none")
    parser.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                        help="write to FILE instead of printing the table (then one summary line is "
                             "printed); the suffix picks the format (.md .csv .tex .html); repeatable")
    parser.add_argument("--wandb-push", metavar="PROJECT",
                        help="log the table as a wandb.Table in a new run of [ENTITY/]PROJECT "
                             "(offline unless WANDB_MODE=online)")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from recbench.leaderboard.collect import collect_runs
    from recbench.leaderboard.export import EXPORTERS, write_export
    from recbench.leaderboard.formats import to_summary
    from recbench.leaderboard.groups import group_tables
    from recbench.leaderboard.table import DEFAULT_METRICS, beyond_patterns, build_leaderboard

    paths = list(args.paths)
    if args.wandb_project:
        from recbench.leaderboard.wandb_io import download_project

        cache = Path(tempfile.mkdtemp(prefix="recbench-wandb-"))
        paths += download_project(args.wandb_project, cache)
    if not paths:
        raise RecbenchError("no runs given: pass run or multirun folders (e.g. outputs/multiruns) "
                            "or --wandb-project ENTITY/PROJECT")
    columns = args.columns
    if args.beyond:
        columns = [*(columns or DEFAULT_METRICS), *beyond_patterns(args.sort)]
    collection = collect_runs(paths)
    board = build_leaderboard(collection, sort=args.sort, columns=columns,
                              datasets=args.dataset, models=args.model,
                              test=None if args.test == "none" else args.test, alpha=args.alpha,
                              ascending=args.ascending, by_source=args.by_path)
    for warning in board.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.groups:
        metric = args.sort.split("/", 1)[-1]
        print("\n" + group_tables(collection.runs, metric, args.dataset, args.model), end="")
    if not args.output:
        print(EXPORTERS[args.format or "markdown"](board), end="")
    else:
        written = [write_export(board, Path(output), fallback=args.format) for output in args.output]
        print(f"wrote {', '.join(map(str, written))}: {to_summary(board)}")
    if args.wandb_push:
        from recbench.leaderboard.wandb_io import push_table

        print(f"pushed the table to W&B run {push_table(board, args.wandb_push)}", file=sys.stderr)
    return 0
