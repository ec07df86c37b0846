"""``recbench recommend RUN_DIR --user ID | --history ITEM,...``: a trained run's top-K list."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "recommend", help="top-K recommendations from a finished run (no retraining)",
        description="Load a run's config and saved weights and list the best unseen items for a user.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (with results.json and checkpoints/)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a user id of the dataset (original id)")
    who.add_argument("--history", help="item ids a new user knows, comma-separated (models that fold in a history)")
    parser.add_argument("--k", type=int, default=10, help="list length (default 10)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recbench.errors import require
    from recbench.serve.explain import recommend
    from recbench.serve.inputs import dumps, given_history, label, user_history
    from recbench.serve.loading import load_run

    require(args.k > 0, f"--k must be a positive integer, got {args.k}")
    loaded = load_run(args.run_dir)
    user, history = user_history(loaded, args.user) if args.user is not None else given_history(loaded, args.history)
    items, scores = recommend(loaded.model, user, history, args.k)
    rows = [{"rank": rank, **label(loaded, item), "score": float(score)}
            for rank, (item, score) in enumerate(zip(items.tolist(), scores.tolist()), start=1)]
    if args.format == "json":
        print(dumps({"model": loaded.model_name, "user": args.user, "history": args.history, "items": rows}))
        return 0
    who = f"user {args.user}" if args.user is not None else f"a new user with {int(history.sum())} items"
    print(f"Top {len(rows)} of {loaded.model_name} for {who}:\n")
    titled = loaded.titles is not None
    print("| rank | item | " + ("title | " if titled else "") + "score |")
    print("|---|---|" + ("---|" if titled else "") + "---|")
    for row in rows:
        title = f" {row['title']} |" if titled else ""
        print(f"| {row['rank']} | {row['item_id']} |{title} {row['score']:.4f} |")
    return 0
