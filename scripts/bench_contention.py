"""How much runs slow down when several start at once: alone vs N at once, before and after.

Two workloads on ML-100K: EASE's fit (numpy/torch dense algebra) and a short BPR-MF run
(``model=mf``, one epoch, Lightning). Each is timed in a fresh process, alone and with N copies
started at the same moment, in two modes:

* ``before``: as recbench ran before the ``threads`` setting: torch and BLAS pools at their
  defaults, OpenMP threads spinning while they wait;
* ``after``: as ``run.py`` runs now: ``threads`` applied (default: the cores available) and
  passive OpenMP waiting (``recbench/threads.py``).

The table gives the median seconds of the timed part (fit or training, not start-up) and the
slow-down (median at once / median alone). On a machine other processes also use, absolute
times drift: compare the slow-downs, repeat (``--repeats``), and say the numbers were contended.

    RECBENCH_DATA_DIR=/data python scripts/bench_contention.py --repeats 3 --copies 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(workload: str, mode: str) -> float:
    """Run one workload in this process; returns the seconds of its timed part."""
    if mode == "after":
        from recbench.threads import prefer_passive_waiting

        prefer_passive_waiting()  # before torch/numpy load, as run.py does
    import recbench.experiment as experiment
    from recbench.threads import set_threads

    if mode == "before":
        experiment.set_threads = lambda threads: None  # recbench as it was: pools at their defaults
    else:
        set_threads(None)
    if workload == "ease":
        from plugins.ease import EASE
        from recbench.data.catalog import catalog_entry
        from recbench.data.loading import load_dataset
        from recbench.data.split import RandomSplit

        data = load_dataset(catalog_entry("ml-100k"), cache_dir=tempfile.mkdtemp())
        train = RandomSplit()(data, seed=0).train
        model = EASE(data.n_users, data.n_items, l2=500.0)
        start = time.perf_counter()
        model.fit(train)
        return time.perf_counter() - start
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=ml-100k", "model=mf", "logger=none", "trainer.max_epochs=1",
                                           "trainer.enable_progress_bar=false"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    output = tempfile.mkdtemp()
    with open_dict(cfg):
        cfg.paths.output_dir = output
        cfg.paths.cache_dir = str(Path(output) / "cache")
        del cfg["hydra"]
    return experiment.train(cfg).timing.train_seconds


def launch(workload: str, mode: str, copies: int, timeout: float) -> list[float]:
    """Start ``copies`` workers at once; the timed seconds of each (inf when it timed out)."""
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    env.update(PYTHONPATH=str(ROOT), WANDB_MODE="disabled")
    command = [sys.executable, __file__, "--worker", workload, "--mode", mode]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True) for _ in range(copies)]
    times = []
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            times.append(json.loads(out.strip().splitlines()[-1])["seconds"])
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError, KeyError):
            process.kill()
            process.communicate()
            times.append(float("inf"))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["ease", "bpr"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["before", "after"], default="after")
    parser.add_argument("--workloads", nargs="+", default=["ease", "bpr"])
    parser.add_argument("--modes", nargs="+", default=["before", "after"])
    parser.add_argument("--copies", type=int, default=3, help="runs started at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a group of runs is given up")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps({"seconds": worker(args.worker, args.mode)}), flush=True)
        return

    rows = []
    for workload in args.workloads:
        for mode in args.modes:
            alone, together = [], []
            for repeat in range(args.repeats):
                alone += launch(workload, mode, 1, args.timeout)
                together += launch(workload, mode, args.copies, args.timeout)
                print(f"#   {workload} {mode} repeat {repeat + 1}: alone {alone[-1]:.2f} s, at once "
                      f"{[round(x, 2) for x in together[-args.copies:]]}", flush=True)
            a, t = statistics.median(alone), statistics.median(together)
            rows.append((workload, mode, a, t, t / a))  # inf: a run passed --timeout
            print(f"# {workload} {mode}: alone {sorted(round(x, 2) for x in alone)}, "
                  f"{args.copies} at once {sorted(round(x, 2) for x in together)}", flush=True)
    print(f"\n| workload | mode | alone (s, median) | {args.copies} at once (s, median) | slow-down |")
    print("| --- | --- | ---: | ---: | ---: |")
    for workload, mode, a, t, ratio in rows:
        print(f"| {workload} | {mode} | {a:.2f} | {t:.2f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
