"""How much training pruning saves: the same sweep with the median pruner and without pruning.

Both sweeps use the random sampler with one seed; recbench seeds each trial by its number, so
both try exactly the same configurations and differ only in pruning. Most of the space is bad
on purpose (learning rates down to 1e-7 barely move the embeddings).

    python scripts/pruning_savings.py --trials 20 --epochs 15

Prints, for each pruner: trials complete / pruned, epochs trained in total, the best value, and
the sweep's wall time; writes the same as JSON to ``--out`` (default: pruning_savings.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
SPACE = ["model.optimizer.lr=tag(log,interval(1e-7,1e-1))", "model.embedding_dim=choice(8,16,32)"]


def run(pruner: str, trials: int, epochs: int, patience: int, data: list[str], sweep_dir: Path) -> dict:
    command = [sys.executable, "run.py", "-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random",
               "hydra.sweeper.sampler.seed=0", f"hydra/sweeper/pruner={pruner}", f"hydra.sweeper.n_trials={trials}",
               f"trainer.max_epochs={epochs}", f"evaluation.patience={patience}", "logger=none",
               "trainer.enable_progress_bar=false", f"hydra.sweep.dir={sweep_dir}", *data, *SPACE]
    if pruner == "median":
        command += ["hydra.sweeper.pruner.n_startup_trials=3", "hydra.sweeper.pruner.n_warmup_steps=1"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    study = optuna.load_study(study_name="mlp-synthetic", storage=f"sqlite:///{sweep_dir}/optuna.db")
    done = study.get_trials(deepcopy=False)
    return {
        "pruner": pruner,
        "complete": sum(t.state == TrialState.COMPLETE for t in done),
        "pruned": sum(t.state == TrialState.PRUNED for t in done),
        # One intermediate value per validated epoch: the epochs each trial trained.
        "epochs_trained": sum(len(t.intermediate_values) for t in done),
        "best_value": study.best_value,
        "sweep_seconds": round(seconds, 1),
        "params": [t.params for t in done],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=5, help="early stopping, in both sweeps")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("pruning_savings.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = [f"dataset.source.n_users={args.users}", f"dataset.source.n_items={args.items}",
            "dataset.source.mean_interactions=20"]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(pruner, args.trials, args.epochs, args.patience, data, Path(tmp) / pruner)
                for pruner in ("none", "median")]
    # A fair comparison: the same configurations in both sweeps.
    assert rows[0]["params"] == rows[1]["params"], "the two sweeps sampled different configurations"
    print(f"{args.trials} trials, at most {args.epochs} epochs, early stopping patience {args.patience}; "
          "same configurations in both sweeps")
    print(f"{'pruner':<8} {'complete':>8} {'pruned':>7} {'epochs':>7} {'best':>8} {'seconds':>8}")
    for r in rows:
        print(f"{r['pruner']:<8} {r['complete']:>8} {r['pruned']:>7} {r['epochs_trained']:>7} "
              f"{r['best_value']:>8.4f} {r['sweep_seconds']:>8.1f}")
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
