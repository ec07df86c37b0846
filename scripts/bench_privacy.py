"""Privacy-utility table: test NDCG@10 at several epsilons and without DP, over seeds.

Each (model, epsilon, seed) is one ``python run.py ...`` in its own process, so its timings are
those of a normal run. Every run trains a fixed number of epochs (patience = epochs: no early
stopping, whose use of validation data the DP guarantee does not cover; the best epoch by
validation NDCG@10 is still the one tested, as in every recbench run). Example (the issue-13
table, ML-100K, per-user random 80/10/10)::

    python scripts/bench_privacy.py --seeds 1 2 3 --epsilons 1 4 8 --epochs 20

Runs whose results.json exists under ``--out`` are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
COMMON = ["dataset=ml-100k", "split=random", "logger=none", "trainer.enable_progress_bar=false",
          "evaluation.refit=false", "evaluation.monitor=valid/ndcg@10", "evaluation.ks=[10]"]
# The same hyperparameters with and without DP, so that only the privacy mechanism differs.
MODELS = {
    "multvae": ["model=multvae", "model.hidden_dims=[]", "model.batch_size=100", "model.total_anneal_steps=200"],
    "mf": ["model=mf", "model.item_bias=false", "model.embedding_dim=64", "model.num_negatives=4",
           "model.embedding_reg=0.01", "model.optimizer.lr=0.005"],
}


def run(model: str, epsilon: float | None, seed: int, epochs: int, out: Path, delta: float) -> dict:
    """One run (reused when its results.json exists); returns its results."""
    name = f"{model}-eps{epsilon if epsilon is not None else 'none'}-seed{seed}"
    folder = out / name
    results = folder / "results.json"
    if not results.exists():
        privacy = [] if epsilon is None else ["privacy=dp", f"privacy.target_epsilon={epsilon}",
                                              f"privacy.delta={delta}"]
        command = [sys.executable, "run.py", *COMMON, *MODELS[model], f"seed={seed}",
                   f"trainer.max_epochs={epochs}", f"evaluation.patience={epochs}", *privacy,
                   f"hydra.run.dir={folder}"]
        print(" ".join(command[1:]), file=sys.stderr, flush=True)
        # One thread per run: on a shared CPU, intra-op threads oversubscribe it and timings explode.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
    return json.loads(results.read_text())


def cell(values: list[float], digits: int) -> str:
    spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
    return f"{np.mean(values):.{digits}f} ± {spread:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 4.0, 8.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_privacy")
    args = parser.parse_args()

    print("| model | unit | target epsilon | epsilon spent | noise multiplier | test NDCG@10 | train s | "
          "train s / non-private |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        baseline = [run(model, None, seed, args.epochs, args.out, args.delta) for seed in args.seeds]
        base_seconds = np.mean([r["timing"]["train_seconds"] for r in baseline])
        for epsilon in [None, *args.epsilons]:
            runs = baseline if epsilon is None else [run(model, epsilon, seed, args.epochs, args.out, args.delta)
                                                     for seed in args.seeds]
            privacy = [r.get("privacy") for r in runs]
            seconds = [r["timing"]["train_seconds"] for r in runs]
            print(f"| {model} | {privacy[0]['unit'] if privacy[0] else '-'} | "
                  f"{'no DP' if epsilon is None else f'{epsilon:g}'} | "
                  f"{cell([p['epsilon'] for p in privacy], 2) if privacy[0] else '-'} | "
                  f"{cell([p['noise_multiplier'] for p in privacy], 3) if privacy[0] else '-'} | "
                  f"{cell([r['metrics']['test/ndcg@10'] for r in runs], 4)} | {cell(seconds, 1)} | "
                  f"{np.mean(seconds) / base_seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
