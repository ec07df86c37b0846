"""Time load, split, fit and evaluation at any size, against the hardware floor of the same run.

Data comes from the sparse synthetic generator (``recbench.data.synthetic``), written once to
Parquet and read back through ``dataset=custom``, exactly as a user's file would be. Each model
then runs in its own child process (so that peak memory is that model's), which also measures the
floor first: matmul GFLOP/s and top-k throughput, turned into the seconds it takes to score
(``d = 64``) and rank every evaluated user. Timings are ratios to that floor, so a contended
machine still gives comparable numbers; repeat and take medians.

    python scripts/bench_scale.py --size ml-1m                     # about a minute
    python scripts/bench_scale.py --size ml-20m --models pop,ials,itemknn,mf --repeats 1
    python scripts/bench_scale.py --users 50000 --items 10000 --interactions 3000000

Gradient models (MF, Mult-VAE) train one epoch; fitted models fit fully. On a machine shared
with other jobs, run with ``OMP_NUM_THREADS=1``: with more threads than free cores every parallel
region waits for the scheduler, and the run measures the load rather than the code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {  # users, items, interactions
    "ml-100k": (943, 1682, 100_000),
    "ml-1m": (6040, 3706, 1_000_209),
    "ml-20m": (138_493, 26_744, 16_300_000),
}
MODEL_OVERRIDES = {  # the settings the issue measures with
    "ials": ["embedding_dim=64", "n_iterations=10"],
    "mf": ["embedding_dim=64"],
}
KS = [10, 20]
EVAL_BATCH = 256
FLOOR_DIM = 64


def write_data(folder: Path, n_users: int, n_items: int, n_interactions: int, seed: int) -> Path:
    """The synthetic interactions as ``interactions.parquet`` in ``folder`` (reused when present)."""
    path = folder / f"synthetic-{n_users}x{n_items}-{n_interactions}-s{seed}.parquet"
    if path.is_file():
        return path
    import pandas as pd

    from recbench.data.synthetic import generate_synthetic

    start = time.perf_counter()
    frame, _ = generate_synthetic(n_users=n_users, n_items=n_items, mean_interactions=n_interactions / n_users,
                                  min_interactions=min(20, n_items), popularity_exponent=1.0, seed=seed)
    # Integer ids, as MovieLens has: what a user's Parquet file would hold.
    frame = pd.DataFrame({"user": frame["user"].cat.codes.astype("int64"),
                          "item": frame["item"].cat.codes.astype("int64"),
                          "rating": frame["rating"], "timestamp": frame["timestamp"]})
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    print(f"generated {len(frame):,} interactions in {time.perf_counter() - start:.1f} s -> {path}",
          file=sys.stderr, flush=True)
    return path


def measure_floor(n_eval_users: int, n_items: int, dim: int = FLOOR_DIM, k: int = max(KS)) -> dict:
    """Seconds to score (``[B, d] @ [d, n_items]``) and rank (top-k) ``n_eval_users`` users.

    The work is done for real, batch by batch, as often as the evaluation does it, so that it meets
    the same load as the evaluation measured next (a best-of-few would flatter a busy machine).
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    items = torch.randn(n_items, dim, generator=generator)
    matmul_s = topk_s = 0.0
    for first in range(0, n_eval_users, EVAL_BATCH):
        users = torch.randn(min(EVAL_BATCH, n_eval_users - first), dim, generator=generator)
        start = time.perf_counter()
        scores = users @ items.T  # [B, n_items]
        middle = time.perf_counter()
        torch.topk(scores, k, dim=1)
        matmul_s += middle - start
        topk_s += time.perf_counter() - middle
    return {"matmul_gflops": round(2 * n_eval_users * dim * n_items / matmul_s / 1e9, 1),
            "topk_gscores_s": round(n_eval_users * n_items / topk_s / 1e9, 3),
            "floor_s": round(matmul_s + topk_s, 2)}


def evaluate(model, history, target, stage: str, device):
    """recbench's evaluation of one stage, through whichever API this revision has."""
    try:
        from recbench.evaluation.evaluator import Evaluator
    except ImportError:  # recbench before the one shared Evaluator (to re-measure old revisions)
        from recbench.evaluation.evaluator import evaluate as old_evaluate
        return old_evaluate(model, history, target, KS, EVAL_BATCH, device)
    return Evaluator(KS, EVAL_BATCH).evaluate(model, history, target, stage, device)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # Linux reports KiB


def run_model(name: str, data_file: str, seed: int, device: str) -> dict:
    """One model's pipeline in this process: stage seconds, the floor, peak memory."""
    import torch
    from omegaconf import OmegaConf

    from recbench.config import build
    from recbench.data.interactions import Interactions
    from recbench.data.preprocess import preprocess
    from recbench.data.split import RandomSplit
    from recbench.plugin import is_fit_model

    root = Path(__file__).resolve().parents[1]
    out: dict = {"model": name}
    timer = time.perf_counter()

    def lap(key: str) -> None:
        nonlocal timer
        now = time.perf_counter()
        out[key] = round(now - timer, 2)
        timer = now

    dataset = OmegaConf.load(root / "conf/dataset/custom.yaml")
    dataset.source.file = data_file
    frame = build(dataset.source, "dataset")
    lap("load_s")
    frame = preprocess(frame, **dataset.preprocess)
    data = Interactions.from_frame(frame)
    del frame
    lap("dedup_encode_s")
    split = RandomSplit((0.8, 0.1, 0.1))(data, seed=seed)
    train = split.train
    stages = {stage: split.stage(stage) for stage in ("valid", "test")}
    lap("split_s")
    n_eval = {stage: int((stages[stage][1].getnnz(axis=1) > 0).sum()) for stage in stages}
    out.update(measure_floor(n_eval["test"], data.n_items))
    timer = time.perf_counter()

    cfg = OmegaConf.load(root / f"conf/model/{name}.yaml")
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(MODEL_OVERRIDES.get(name, [])))
    torch.manual_seed(seed)
    model = build(cfg, "model", n_users=data.n_users, n_items=data.n_items)
    if is_fit_model(model):
        model.fit(train)
    else:
        train_one_epoch(model, split, seed)
    lap("fit_s")
    target = torch.device(device)
    model.to(target)
    for stage, (history, truth) in stages.items():
        result = evaluate(model, history, truth, stage, target)
        lap(f"eval_{stage}_s")
        out[f"{stage}_ndcg@10"] = round(float(result.per_user["ndcg@10"].mean()), 4)
    out["peak_rss_gb"] = round(peak_rss_gb(), 2)
    out["threads"] = torch.get_num_threads()
    out.update(n_users=data.n_users, n_items=data.n_items, n_interactions=len(data), n_eval_users=n_eval["test"])
    return out


def train_one_epoch(model, split, seed: int) -> None:
    """One training epoch through recbench's Lightning module, no validation."""
    import pytorch_lightning as pl

    from recbench.training.module import InteractionDataModule, RecommenderModule

    try:
        from recbench.evaluation.evaluator import Evaluator
        evaluator = Evaluator(KS, EVAL_BATCH)
    except ImportError:  # recbench before the one shared Evaluator (to re-measure old revisions)
        evaluator = None
    if evaluator is None:
        module = RecommenderModule(model, split.n_items, KS)
        data = InteractionDataModule(split, model.batch_kind, model.batch_size, EVAL_BATCH, seed,
                                     getattr(model, "num_negatives", 0))
    else:
        module = RecommenderModule(model, split.n_items, evaluator)
        data = InteractionDataModule(split, model.batch_kind, model.batch_size, evaluator, seed,
                                     getattr(model, "num_negatives", 0))
    trainer = pl.Trainer(max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="auto", devices=1)
    trainer.fit(module, datamodule=data)


def table(rows: list[dict]) -> str:
    """Markdown: medians over repeats, with the evaluation's ratio to the floor."""
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    header = ("| model | load s | dedup+encode s | split s | fit s | eval valid s | eval test s | floor s "
              "| eval / floor | peak RSS GB | test NDCG@10 |")
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for name, runs in by_model.items():
        med = {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "model"}
        ratio = max(med["eval_valid_s"], med["eval_test_s"]) / med["floor_s"]
        lines.append(f"| {name} | {med['load_s']:.1f} | {med['dedup_encode_s']:.1f} | {med['split_s']:.1f} | "
                     f"{med['fit_s']:.1f} | {med['eval_valid_s']:.1f} | {med['eval_test_s']:.1f} | "
                     f"{med['floor_s']:.1f} | {ratio:.2f} | {med['peak_rss_gb']:.2f} | {med['test_ndcg@10']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="ml-1m")
    parser.add_argument("--users", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--interactions", type=int)
    parser.add_argument("--models", default="pop,ials,ease,itemknn,multvae,mf")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if os.environ.get("CUDA_VISIBLE_DEVICES") else "cpu")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "recbench-bench-scale"),
                        help="where the generated Parquet files are kept and reused")
    parser.add_argument("--json", help="also write the raw rows here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_model(args.child, args.data_file, args.seed, args.device)), flush=True)
        return

    n_users, n_items, n_interactions = SIZES[args.size]
    n_users, n_items = args.users or n_users, args.items or n_items
    n_interactions = args.interactions or n_interactions
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Generated in a child too, so that this parent stays small.
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import bench_scale as b; "
                    "b.write_data(b.Path(sys.argv[2]), *map(int, sys.argv[3:7]))",
                    str(Path(__file__).parent), str(folder), str(n_users), str(n_items), str(n_interactions),
                    str(args.seed)], check=True)
    data_file = write_data(folder, n_users, n_items, n_interactions, args.seed)
    rows = []
    for repeat in range(args.repeats):
        for name in args.models.split(","):
            command = [sys.executable, __file__, "--child", name, "--data-file", str(data_file),
                       "--seed", str(args.seed), "--device", args.device]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{name}: failed (exit {done.returncode})\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["repeat"] = repeat
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(table([{k: v for k, v in row.items() if k != "repeat"} for row in rows]))


if __name__ == "__main__":
    main()
