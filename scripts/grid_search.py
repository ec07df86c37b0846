"""Small manual grid searches and seed summaries, run in one process (no per-trial start-up).

Every combination of the ``--grid`` values is trained on the training part and scored on the
validation part (no refit, no files kept); the table is sorted by the validation metric.

    python scripts/grid_search.py dataset=ml-100k split=ratio_80_20 model=ease \\
        --grid model.l2=100,300,500,1000 --metric valid/ndcg@20

With ``--summary``, the runs keep the config's refit setting and the mean and standard deviation
of the named metrics (and of the timings) over all runs are printed, e.g. over split seeds:

    python scripts/grid_search.py experiment=ease_ml100k --grid seed=1,2,3 \\
        --summary test/ndcg@20 test/recall@20 test/recall_all@20 test/precision@20 test/mrr@20
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from recbench.experiment import train

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def run_one(overrides: list[str], output_dir: str) -> dict:
    """Train one configuration in-process and return its results dictionary."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["logger=none", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
        del cfg["hydra"]
    return train(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="fixed Hydra overrides, e.g. dataset=ml-100k model=ease")
    parser.add_argument("--grid", nargs="+", default=[], help="key=v1,v2,... (every combination is run)")
    parser.add_argument("--metric", default="valid/ndcg@20", help="metric to sort by")
    parser.add_argument("--summary", nargs="+", help="report mean and std of these metrics over all runs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    keys = [item.split("=", 1)[0] for item in args.grid]
    values = [item.split("=", 1)[1].split(",") for item in args.grid]
    rows, summaries = [], []
    with tempfile.TemporaryDirectory() as output_dir:
        for combination in itertools.product(*values):
            trial = [f"{key}={value}" for key, value in zip(keys, combination)]
            start = time.perf_counter()
            no_refit = [] if args.summary else ["evaluation.refit=false"]
            results = run_one([*args.overrides, *no_refit, *trial], output_dir)
            rows.append((results["metrics"][args.metric], time.perf_counter() - start, trial))
            print(f"{rows[-1][0]:.4f}  {rows[-1][1]:6.1f} s  {' '.join(trial)}", flush=True)
            summaries.append({**results["metrics"], **{f"timing/{key}": value
                                                       for key, value in results["timing"].items()}})
    if args.summary:
        print(f"\nmean +- std over {len(summaries)} runs:")
        for name in [*args.summary, "timing/train_seconds", "timing/eval_seconds"]:
            values = np.array([summary[name] for summary in summaries], dtype=float)
            print(f"  {name:<24} {values.mean():.4f} +- {values.std(ddof=1) if len(values) > 1 else 0.0:.4f}")
        return
    print(f"\nbest {args.metric}:")
    for value, seconds, trial in sorted(rows, key=lambda row: -row[0])[:5]:
        print(f"{value:.4f}  {seconds:6.1f} s  {' '.join(trial)}")


if __name__ == "__main__":
    main()
