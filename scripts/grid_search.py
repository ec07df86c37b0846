"""Small manual grid searches, run in one process (no per-trial interpreter start-up).

Every combination of the ``--grid`` values is trained on the training part and scored on the
validation part (no refit, no files kept); the table is sorted by the validation metric.

    python scripts/grid_search.py dataset=ml-100k split=ratio_80_20 model=ease \\
        --grid model.l2=100,300,500,1000 --metric valid/ndcg@20
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from pathlib import Path

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
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    keys = [item.split("=", 1)[0] for item in args.grid]
    values = [item.split("=", 1)[1].split(",") for item in args.grid]
    rows = []
    with tempfile.TemporaryDirectory() as output_dir:
        for combination in itertools.product(*values):
            trial = [f"{key}={value}" for key, value in zip(keys, combination)]
            start = time.perf_counter()
            results = run_one([*args.overrides, "evaluation.refit=false", *trial], output_dir)
            rows.append((results["metrics"][args.metric], time.perf_counter() - start, trial))
            print(f"{rows[-1][0]:.4f}  {rows[-1][1]:6.1f} s  {' '.join(trial)}", flush=True)
    print(f"\nbest {args.metric}:")
    for value, seconds, trial in sorted(rows, key=lambda row: -row[0])[:5]:
        print(f"{value:.4f}  {seconds:6.1f} s  {' '.join(trial)}")


if __name__ == "__main__":
    main()
