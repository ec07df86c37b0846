"""Time load, split, fit and evaluation at any size, against the hardware floor of the same run.

Data comes from the synthetic generator (``recbench.data.synthetic``, a block of users at a time),
written once to Parquet with integer ids and read back through ``dataset=custom``, as a user's file
would be. Each model then runs in its own process (so that peak memory is that model's) through
the pieces ``recbench.experiment.train`` uses: ``load_dataset``, the split, ``Evaluator.from_config``
with ``for_split`` and the run's beyond-accuracy metrics, ``fit`` (fitted models) or one training
epoch (gradient models), and ``Evaluator.evaluate`` per stage. The same process measures the
**floor** first: a ``[B, 64] @ [64, n_items]`` matmul for every user the test stage evaluates plus
``torch.topk`` over the scores, in the evaluator's batch size. Every stage is also given as a ratio
to that floor, which a contended machine slows alike.

    python scripts/bench_scale.py --size ml-1m
    python scripts/bench_scale.py --users 20000 --items 5000 --interactions 1000000 --threads 1
    python scripts/bench_scale.py --size ml-20m --models pop,ials,itemknn,mf --threads 1
    python scripts/bench_scale.py --size ml-1m --override evaluation.beyond=[]   # any run override

Peak RSS is the process's high-water mark (``getrusage``) after each stage. On a machine shared
with other jobs use ``--threads 1``: with more threads than free cores every parallel region waits
for the scheduler, and the run measures the load rather than the code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
SIZES = {  # users, items, interactions
    "ml-100k": (943, 1682, 100_000),
    "ml-1m": (6040, 3706, 1_000_209),
    "ml-20m": (138_493, 26_744, 16_300_000),  # as measured in issue 17
}
FLOOR_DIM = 64


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def write_data(path: Path, n_users: int, n_items: int, n_interactions: int, seed: int) -> dict:
    """Generate the interactions and write them to ``path`` (Parquet, integer ids)."""
    import pandas as pd

    from recbench.data.synthetic import generate_synthetic

    start = time.perf_counter()
    # At least 20 interactions per user, as MovieLens keeps; a Zipf exponent of 1 for its long tail.
    frame, _ = generate_synthetic(n_users=n_users, n_items=n_items, mean_interactions=n_interactions / n_users,
                                  min_interactions=min(20, n_items), popularity_exponent=1.0, seed=seed)
    seconds = time.perf_counter() - start
    frame = pd.DataFrame({"user": frame["user"].str.slice(1).astype("int64"),
                          "item": frame["item"].str.slice(1).astype("int64"),
                          "rating": frame["rating"], "timestamp": frame["timestamp"]})
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
    return {"stage": "generate", "seconds": round(seconds, 2), "peak_rss_gib": round(peak_rss_gib(), 2),
            "n_interactions": len(frame)}


def compose_config(model: str, data_file: Path, overrides: list[str]):
    """The run config for ``model`` on ``data_file`` through ``dataset=custom``."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[
            "dataset=custom", "dataset.name=bench-scale", f"dataset.path={data_file.parent}",
            f"dataset.source.file={data_file.name}", f"model={model}", "logger=none", *overrides])


def measure_floor(n_users: int, n_items: int, batch_size: int, k: int, device) -> float:
    """Seconds to score (``[B, d] @ [d, n_items]``, d = 64) and rank (``torch.topk``) ``n_users`` users.

    Done for real, batch by batch, once, so that it meets the same load as the stages beside it.
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    items = torch.randn(n_items, FLOOR_DIM, generator=generator).to(device)
    seconds = 0.0
    for first in range(0, n_users, batch_size):
        users = torch.randn(min(batch_size, n_users - first), FLOOR_DIM, generator=generator).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        scores = users @ items.T  # [B, n_items]
        torch.topk(scores, min(k, n_items), dim=1)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
    return seconds


def train_one_epoch(cfg, model, split, evaluator, output_dir: str) -> None:
    """One training epoch through recbench's Lightning module and data module, no validation."""
    from hydra.utils import instantiate

    from recbench.training.module import InteractionDataModule, RecommenderModule

    module = RecommenderModule(model, split.n_items, evaluator, cfg.evaluation.monitor)
    data = InteractionDataModule(split, model.batch_kind, model.batch_size, evaluator, cfg.seed,
                                 getattr(model, "num_negatives", 0))
    trainer = instantiate(cfg.trainer, max_epochs=1, min_epochs=1, limit_val_batches=0, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, default_root_dir=output_dir)
    trainer.fit(module, datamodule=data)


def run_model(model_name: str, data_file: Path, overrides: list[str]) -> list[dict]:
    """One model's pipeline in this process: a row per stage."""
    import numpy as np
    import pytorch_lightning as pl

    from recbench.allocator import keep_large_blocks_in_heap
    from recbench.config import build
    from recbench.data.loading import load_dataset
    from recbench.evaluation.evaluator import Evaluator
    from recbench.experiment import build_beyond
    from recbench.plugin import is_fit_model
    from recbench.threads import set_threads
    from recbench.training.runner import fit_device

    cfg = compose_config(model_name, data_file, overrides)
    keep_large_blocks_in_heap()  # as run.py does
    threads = set_threads(cfg.get("threads"))
    device = fit_device(cfg.trainer)
    rows: list[dict] = []
    timer = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal timer
        now = time.perf_counter()
        rows.append({"model": model_name, "stage": stage, "seconds": round(now - timer, 3),
                     "peak_rss_gib": round(peak_rss_gib(), 3)})
        timer = now

    with tempfile.TemporaryDirectory() as cache_dir:
        data = load_dataset(cfg.dataset, cache_dir=cache_dir)
        lap("load (read, dedup, encode)")
        split = build(cfg.split, "split")(data, seed=cfg.split.get("seed", cfg.seed))
        stages = {stage: split.stage(stage) for stage in ("valid", "test")}
        beyond = build_beyond(cfg.evaluation, cfg.dataset, data, split, cache_dir)
        evaluator = Evaluator.from_config(cfg.evaluation).for_split(split, cfg.evaluation.refit, beyond)
        lap("split")
        n_evaluated = int((np.diff(stages["test"][1].indptr) > 0).sum())
        floor = measure_floor(n_evaluated, data.n_items, evaluator.batch_size, max(evaluator.ks), device)
        rows.append({"model": model_name, "stage": "floor", "seconds": round(floor, 3),
                     "peak_rss_gib": round(peak_rss_gib(), 3)})
        timer = time.perf_counter()

        pl.seed_everything(cfg.seed, workers=True)
        model = build(cfg.model, "model", n_users=data.n_users, n_items=data.n_items)
        if is_fit_model(model):
            model.fit(split.train)
            lap("fit")
        else:
            train_one_epoch(cfg, model, split, evaluator, cache_dir)
            lap("fit (one epoch)")
        model.to(device)
        ndcg = {}
        for stage, (history, target) in stages.items():
            ndcg[stage] = float(evaluator.evaluate(model, history, target, stage, device).per_user["ndcg@10"].mean())
            lap(f"evaluate {stage}")
    for row in rows:
        row.update(ratio=round(row["seconds"] / floor, 2), threads=threads,
                   n_users=data.n_users, n_items=data.n_items, n_interactions=len(data),
                   n_evaluated=n_evaluated, test_ndcg10=round(ndcg["test"], 4))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: a line per model and stage."""
    lines = ["| model | stage | seconds | peak RSS GiB | x floor |", "|---|---|---:|---:|---:|"]
    for row in rows:
        ratio = f"{row['ratio']:.1f}" if "ratio" in row else ""
        lines.append(f"| {row.get('model', '')} | {row['stage']} | {row['seconds']:.2f} | "
                     f"{row['peak_rss_gib']:.2f} | {ratio} |")
    return "\n".join(lines)


def child(*args: str) -> str:
    """This script with ``args`` in a fresh process (its own peak RSS); its last stdout line."""
    done = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="ml-1m")
    parser.add_argument("--users", type=int, help="instead of the size's")
    parser.add_argument("--items", type=int, help="instead of the size's")
    parser.add_argument("--interactions", type=int, help="instead of the size's (users have at least 20)")
    parser.add_argument("--models", default="pop,ials,ease,itemknn,userknn,multvae,mf")
    parser.add_argument("--threads", type=int, help="compute threads (the run's `threads`); default: all cores")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--override", action="append", default=[], help="a run override, e.g. model.k=50")
    parser.add_argument("--seed", type=int, default=0, help="the data's seed")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "recbench-bench-scale"),
                        help="where generated Parquet files are kept and reused")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--write", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = [*(["trainer=gpu"] if args.device == "cuda" else []),
                 *([f"threads={args.threads}"] if args.threads else []), *args.override]
    if args.write:
        print(json.dumps(write_data(Path(args.write[0]), *map(int, args.write[1:]))))
        return
    if args.run:
        print(json.dumps(run_model(args.run[0], Path(args.run[1]), overrides)))
        return

    n_users, n_items, n_interactions = SIZES[args.size]
    n_users, n_items, n_interactions = args.users or n_users, args.items or n_items, args.interactions or n_interactions
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data_file = folder / f"synthetic-{n_users}x{n_items}-{n_interactions}-seed{args.seed}.parquet"
    rows = []
    if not data_file.is_file():
        rows.append(json.loads(child("--write", str(data_file), str(n_users), str(n_items), str(n_interactions),
                                     str(args.seed))))
        print(json.dumps(rows[-1]), flush=True)
    for name in args.models.split(","):
        try:
            passed = [arg for override in overrides for arg in ("--override", override)]
            model_rows = json.loads(child("--run", name, str(data_file), *passed))
        except RuntimeError as error:
            print(error, file=sys.stderr, flush=True)
            continue
        print(f"{name}: " + ", ".join(f"{row['stage']} {row['seconds']:.1f} s" for row in model_rows), flush=True)
        rows.extend(model_rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    first = next((row for row in rows if "n_users" in row), None)
    if first:
        print(f"\n{first['n_users']:,} users x {first['n_items']:,} items, {first['n_interactions']:,} interactions "
              f"after dedup; {first['n_evaluated']:,} test users; {first['threads']} thread(s); {args.device}")
    print(table(rows))
    ndcg = {row["model"]: row["test_ndcg10"] for row in rows if "test_ndcg10" in row}
    print("test NDCG@10: " + ", ".join(f"{model} {value:.4f}" for model, value in ndcg.items()))


if __name__ == "__main__":
    main()
