"""Accuracy beside novelty, popularity bias, exposure, diversity and calibration, and the group gaps.

Runs the tuned ML-100K experiments (``conf/experiment/<model>_ml100k.yaml``, tuned for the 80/20
refit protocol) on the default per-user random 80/10/10 split without refit, with every
beyond-accuracy metric and the user groups, one ``python run.py`` process each, then prints:

1. a table of test NDCG@10 beside novelty, ARP, APLT, Gini, coverage, ILD on genres and calibration;
2. the largest gap between user groups in NDCG@10 for each grouping, with Welch's t-test (best vs
   worst group) and the Kruskal-Wallis test (all groups).

Example::

    python scripts/bench_beyond.py pop itemknn ease puresvd ials mf multvae \
        --overrides trainer.max_epochs=30 --out outputs/bench_beyond
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [("NDCG@10", "ndcg@10"), ("novelty", "novelty@10"), ("ARP", "arp@10"), ("APLT", "aplt@10"),
           ("pop lift", "pop_lift@10"), ("Gini", "gini@10"), ("entropy", "entropy@10"),
           ("coverage", "coverage@10"), ("head exp.", "head_exposure@10"), ("ILD", "ild@10"),
           ("calib. KL", "calibration@10")]


def run(model: str, output: Path, groups: list[str], beyond: str, overrides: list[str]) -> dict:
    """One run (reused when its results.json exists); returns its results."""
    results = output / "results.json"
    if not results.exists():
        subprocess.run([sys.executable, "run.py", f"experiment={model}_ml100k", "split=random",
                        "evaluation.refit=false", "evaluation.monitor=valid/ndcg@10", f"evaluation.beyond={beyond}",
                        f"evaluation.user_groups=[{','.join(groups)}]", "logger=none",
                        "trainer.enable_progress_bar=false", f"hydra.run.dir={output}", *overrides],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(results.read_text())


# Seconds of each phase of `recbench recommend` inside one process: imports, loading the run, the list.
PHASES = """
import sys, time
start = time.perf_counter()
import torch, recbench.cli, recbench.serve.loading, recbench.serve.explain, recbench.data.feature_needs
imported = time.perf_counter()
from recbench.serve.loading import load_run
from recbench.serve.inputs import user_history
from recbench.serve.explain import recommend
run = load_run(sys.argv[1])
loaded = time.perf_counter()
recommend(run.model, *user_history(run, sys.argv[2]), 10)
done = time.perf_counter()
print(f"{imported - start:.3f} {loaded - imported:.3f} {done - loaded:.3f}")
"""


def recommend_seconds(run_dir: Path, user: str, repeats: int) -> None:
    """Median wall seconds of `recbench recommend` for one user, and of its phases in one process."""
    walls, phases = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "recbench", "recommend", str(run_dir), "--user", user],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        out = subprocess.run([sys.executable, "-c", PHASES, str(run_dir), user], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        phases.append([float(x) for x in out])
    median = [statistics.median(column) for column in zip(*phases)]
    print(f"\nrecbench recommend {run_dir.name} --user {user}: median {statistics.median(walls):.2f} s wall over "
          f"{repeats} runs ({', '.join(f'{w:.2f}' for w in walls)}); in one process: imports {median[0]:.2f} s, "
          f"loading the run (data, split, weights) {median[1]:.2f} s, scoring and ranking {median[2]:.3f} s")


def fmt(value, digits: int = 4) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="models with a conf/experiment/<model>_ml100k.yaml")
    parser.add_argument("--groups", nargs="+", default=["gender", "age", "activity"])
    parser.add_argument("--beyond", default="all", help="evaluation.beyond (default all)")
    parser.add_argument("--metric", default="ndcg@10", help="the metric whose group gaps are shown")
    parser.add_argument("--overrides", nargs="*", default=[], help="extra run.py overrides for every run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_beyond")
    parser.add_argument("--recommend-user",
                        help="also time `recbench recommend` for this user on the first model's run")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of the timing (median reported)")
    args = parser.parse_args()

    results = {m: run(m, args.out / m, args.groups, args.beyond, args.overrides) for m in args.models}
    print("| model | " + " | ".join(name for name, _ in COLUMNS) + " | train s |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for model, result in results.items():
        metrics = result["metrics"]
        cells = [fmt(metrics.get(f"test/{key}"), 1 if key.startswith("arp") else 4) for _, key in COLUMNS]
        print(f"| {model} | " + " | ".join(cells) + f" | {result['timing']['train_seconds']:.1f} |")

    print(f"\nGroup gaps in test {args.metric} (best - worst group; Welch's t-test best vs worst, "
          "Kruskal-Wallis across groups):\n")
    print("| model | grouping | groups (mean, n) | gap | best / worst | p Welch | p Kruskal |")
    print("|---|---|---|---|---|---|---|")
    for model, result in results.items():
        for grouping, per_metric in (result.get("fairness", {}).get("test") or {}).items():
            entry = per_metric[args.metric]
            groups = ", ".join(f"{name} {g['mean']:.3f} ({g['n']})" for name, g in entry["groups"].items())
            print(f"| {model} | {grouping} | {groups} | {fmt(entry['gap'])} | {entry['best']} / {entry['worst']} "
                  f"| {entry['p_welch']:.3g} | {entry['p_kruskal']:.3g} |")
    if args.recommend_user:
        recommend_seconds(args.out / args.models[0], args.recommend_user, args.repeats)


if __name__ == "__main__":
    main()
