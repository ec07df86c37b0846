"""The ``recbench`` command: sub-commands around experiments (which run through ``run.py``)."""

from __future__ import annotations

import argparse
import importlib
import sys

from recbench import __version__
from recbench.errors import RecbenchError

# Modules that each add one sub-command through ``add_parser(subparsers)``; the parser they add
# sets ``handler`` (a function of the parsed arguments returning an exit status).
COMMAND_MODULES: list[str] = ["recbench.data.cli", "recbench.leaderboard.command", "recbench.scaffold",
                              "recbench.serve.recommend_command", "recbench.serve.explain_command"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recbench", description=(
        "recbench tools. Experiments run through Hydra: python run.py model=mlp"))
    parser.add_argument("--version", action="version", version=f"recbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except RecbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
