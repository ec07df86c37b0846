"""Run frozen experiments over split seeds and print the mean and std of their test metrics.

Each (experiment, seed) is one ``python run.py experiment=<name> seed=<seed>`` in its own process,
so its timings are those of a normal run. Example (the issue-4 ML-100K table)::

    python scripts/benchmark_neural.py mf_ml100k multvae_ml100k --seeds 1 2 3

and the RecBole comparison protocol (per-user random 80/10/10, test NDCG@10, no refit)::

    python scripts/benchmark_neural.py mf_ml100k --metrics ndcg@10 --overrides split=random \
        evaluation.refit=false evaluation.monitor=valid/ndcg@10
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_METRICS = ["ndcg@20", "recall@20", "recall_all@20", "precision@20", "mrr@20"]


def run(experiment: str, seed: int, output: Path, overrides: list[str]) -> dict:
    """One run (reused when its results.json exists); returns its results."""
    results = output / "results.json"
    if not results.exists():
        subprocess.run([sys.executable, "run.py", f"experiment={experiment}", f"seed={seed}", "logger=none",
                        "trainer.enable_progress_bar=false", f"hydra.run.dir={output}", *overrides],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(results.read_text())


def row(experiment: str, runs: list[dict], metrics: list[str]) -> str:
    """One markdown row: mean ± std of each metric and of the timings over the runs."""
    def cell(values: list[float], digits: int) -> str:
        return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.{digits}f}"

    cells = [cell([r["metrics"][f"test/{m}"] for r in runs], 4) for m in metrics]
    timing = [r["timing"] for r in runs]
    # With refit, training ran epochs (search) + best_epoch + 1 (refit) epochs.
    refit = [r["config"]["evaluation"]["refit"] for r in runs]
    epochs = [t["epochs"] + (t["best_epoch"] + 1 if f else 0) for t, f in zip(timing, refit)]
    cells += [cell([t["train_seconds"] for t in timing], 1),
              cell([t["train_seconds"] / e for t, e in zip(timing, epochs)], 2),
              cell([t["eval_seconds"] for t in timing], 2),
              cell([t["best_epoch"] + 1 for t in timing], 0)]
    return f"| {experiment} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", help="names in conf/experiment/")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--metrics", nargs="+", default=DEFAULT_METRICS)
    parser.add_argument("--output", type=Path, default=ROOT / "outputs/benchmark_neural")
    parser.add_argument("--overrides", nargs="+", default=[], help="extra Hydra overrides for every run")
    args = parser.parse_args()
    # One folder per set of overrides, named in characters Hydra's override grammar accepts.
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(args.overrides)) or "default"
    header = ["experiment", *(f"test {m}" for m in args.metrics), "train s", "s/epoch", "eval s", "best epoch"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header), flush=True)
    for experiment in args.experiments:
        runs = [run(experiment, seed, args.output / tag / experiment / str(seed), args.overrides)
                for seed in args.seeds]
        print(row(experiment, runs, args.metrics), flush=True)


if __name__ == "__main__":
    main()
