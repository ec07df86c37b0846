"""Tune a model on validation for each seed, report its test metrics as mean ± std over seeds.

For each seed, every combination of the ``--grid`` values is trained in-process (no per-run
start-up); the one with the best ``--select`` metric on validation is kept and its test metrics
are reported. The same grid size for every model is the "same tuning budget" of issue 10.

    python scripts/bench_hybrid.py dataset=ml-100k split=cold_items model=hybridmf trainer.max_epochs=30 \\
        --grid model.loss=warp,bpr model.embedding_dim=32,64 --seeds 1 2 3
    python scripts/bench_hybrid.py dataset=ml-100k split=random model=mlp model.use_features=true ...

Prints one JSON line per seed (the chosen setting, its metrics and seconds) and a summary table.
"""

from __future__ import annotations

import argparse
import itertools
import json
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
DEFAULT_REPORT = ("test/ndcg@10", "test/recall@20", "test/all/ndcg@10", "test/all/recall@20")


def run_one(overrides: list[str], output_dir: str) -> tuple[dict[str, float], float]:
    """Train one configuration in-process; its metrics and wall-clock seconds."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["logger=none", "trainer.enable_progress_bar=false", *overrides],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
        del cfg["hydra"]
    start = time.perf_counter()
    result = train(cfg)
    metrics = result["metrics"] if isinstance(result, dict) else result.metrics
    return dict(metrics), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="fixed Hydra overrides, e.g. dataset=ml-100k model=hybridmf")
    parser.add_argument("--grid", nargs="*", default=[], help="key=v1,v2,... (every combination is tried)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--select", default="valid/ndcg@10", help="validation metric that picks the setting")
    parser.add_argument("--report", nargs="+", default=list(DEFAULT_REPORT))
    parser.add_argument("--label", default=None, help="name of this row in the summary")
    parser.add_argument("--out", type=Path, default=None, help="append the per-seed rows here (JSON lines)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    keys = [item.split("=", 1)[0] for item in args.grid]
    values = [item.split("=", 1)[1].split(",") for item in args.grid]
    label = args.label or " ".join(args.overrides)
    rows = []
    for seed in args.seeds:
        best = None
        seconds = 0.0
        for combination in itertools.product(*values):
            setting = [f"{k}={v}" for k, v in zip(keys, combination)]
            with tempfile.TemporaryDirectory() as output_dir:
                metrics, took = run_one([*args.overrides, *setting, f"seed={seed}"], output_dir)
            seconds += took
            if best is None or metrics[args.select] > best[1][args.select]:
                best = (setting, metrics)
        row = {"label": label, "seed": seed, "setting": best[0], "tuning_seconds": round(seconds, 1),
               "select": round(best[1][args.select], 4),
               **{name: best[1].get(name) for name in args.report}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a") as file:
                file.write(json.dumps(row) + "\n")
    print(f"\n{label} (seeds {args.seeds}, {int(np.prod([len(v) for v in values]))} settings each):")
    for name in [args.select, *args.report]:
        found = np.array([row["select"] if name == args.select else row[name] for row in rows
                          if (row["select"] if name == args.select else row[name]) is not None], dtype=float)
        if len(found):
            std = found.std(ddof=1) if len(found) > 1 else 0.0
            print(f"  {name:<22} {found.mean():.4f} ± {std:.4f}")


if __name__ == "__main__":
    main()
