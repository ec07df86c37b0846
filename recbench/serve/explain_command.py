"""``recbench explain RUN_DIR --user ID``: why each item is on a trained run's list."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain", help="why a finished run recommends what it does (history items that contributed most)",
        description="For each recommended item, the user's history items that contributed most: exact "
                    "contributions for models linear in the history (EASE, SLIM, ItemKNN, PureSVD), the "
                    "nearest history items in item-embedding space (an approximation) for embedding models.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (with results.json and checkpoints/)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a user id of the dataset (original id)")
    who.add_argument("--history", help="item ids a new user knows, comma-separated (models that fold in a history)")
    parser.add_argument("--k", type=int, default=10, help="list length (default 10)")
    parser.add_argument("--top", type=int, default=3, help="history items shown per recommended item (default 3)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recbench.errors import require
    from recbench.serve.explain import explain
    from recbench.serve.inputs import dumps, given_history, label, user_history
    from recbench.serve.loading import load_run

    require(args.k > 0 and args.top > 0, f"--k and --top must be positive integers, got {args.k} and {args.top}")
    loaded = load_run(args.run_dir)
    user, history = user_history(loaded, args.user) if args.user is not None else given_history(loaded, args.history)
    answer = explain(loaded.model, user, history, args.k, args.top)
    for entry in answer["items"]:
        entry.update(label(loaded, entry.pop("item")))
        for reason in entry["because"]:
            reason.update(label(loaded, reason.pop("item")))
    if args.format == "json":
        print(dumps({"model": loaded.model_name, "user": args.user, **answer}))
        return 0
    print(markdown(loaded.model_name, args.user, answer))
    return 0


def _name(entry: dict) -> str:
    return f"{entry['item_id']} {entry['title']}" if "title" in entry else str(entry["item_id"])


def markdown(model: str, user, answer: dict) -> str:
    """The explanation as a Markdown list."""
    exact = answer["method"] == "exact"
    lines = [f"## Why {model} recommends these items to user {user}", "",
             "Exact: each history item's contribution to the score (contributions sum to the score)." if exact
             else "Approximation: the history items nearest to each recommended item in the model's "
                  "item-embedding space (cosine similarity); not the model's actual computation.", ""]
    for rank, entry in enumerate(answer["items"], start=1):
        lines.append(f"{rank}. **{_name(entry)}** (score {entry['score']:.4f})")
        for reason in entry["because"]:
            detail = (f"contribution {reason['contribution']:+.4f} ({reason['share']:.0%} of the score)" if exact
                      else f"similarity {reason['similarity']:.3f}")
            lines.append(f"   - {_name(reason)}: {detail}")
    return "\n".join(lines)
