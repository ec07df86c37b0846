"""Time load + preprocess + split on ML-1M-sized data, cold and with the split cache.

Writes a synthetic dataset the size and shape of MovieLens-1M (6,040 users x 3,706 items,
about 1M interactions) as a ``::``-separated ratings.dat, then runs the same pipeline as a
run (catalog reader, preprocessing, cached split) in fresh processes: once with an empty
cache and once with the split cached. Each process reports its stage times and peak memory.

    python scripts/bench_data.py                       # synthetic ML-1M-sized data
    python scripts/bench_data.py --folder /path/ml-1m  # the real ML-1M ratings.dat, if you have it
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def write_synthetic(folder: Path) -> None:
    """ratings.dat with ~1M interactions of 6,040 users on 3,706 items, in ML-1M's format."""
    import numpy as np

    from recbench.data.synthetic import generate_synthetic

    frame, _ = generate_synthetic(n_users=6040, n_items=3706, mean_interactions=165.6, min_interactions=20,
                                  seed=0)
    out = np.column_stack([frame["user"].str[1:].astype(int) + 1, frame["item"].str[1:].astype(int) + 1,
                           frame["rating"].astype(int), frame["timestamp"]])
    np.savetxt(folder / "ratings.dat", out, fmt="%d", delimiter="::")


def measure(folder: str, cache: str, split: str) -> dict:
    """One run's pipeline in this process: seconds per stage and peak memory."""
    from omegaconf import OmegaConf

    from recbench.data.catalog import CATALOG_DIR, catalog_entry
    from recbench.data.loading import load_dataset
    from recbench.data.preprocess import statistics
    from recbench.data.split_cache import cached_split

    entry = catalog_entry("ml-1m", [f"path={folder}", "download=false", "preprocess.min_user_interactions=5",
                                    "preprocess.min_item_interactions=5"])
    split_cfg = OmegaConf.load(CATALOG_DIR.parent / "split" / f"{split}.yaml")
    tracemalloc.start()
    start = time.perf_counter()
    data = load_dataset(entry, cache_dir=cache)
    loaded = time.perf_counter()
    stats = statistics(data)
    result, cache_file = cached_split(split_cfg, data, seed=42, cache_dir=cache)
    result.train  # the first matrix a run builds
    done = time.perf_counter()
    _, traced_peak = tracemalloc.get_traced_memory()
    return {"split": split, "interactions": stats["n_interactions"], "users": stats["n_users"],
            "items": stats["n_items"], "load_preprocess_s": round(loaded - start, 3),
            "split_s": round(done - loaded, 3), "total_s": round(done - start, 3),
            "traced_peak_mib": round(traced_peak / 2**20, 1),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cache_file": str(cache_file)}


def _child(*args: str) -> str:
    """Run this script with ``args`` in a fresh process; its stdout."""
    run = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stderr)
    return run.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="folder with an ML-1M-format ratings.dat (default: synthetic)")
    parser.add_argument("--splits", nargs="+", default=["random", "leave_one_out"])
    parser.add_argument("--measure", nargs=3, metavar=("FOLDER", "CACHE", "SPLIT"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.write:
        write_synthetic(Path(args.write))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp) / "data"
        if not args.folder:
            folder.mkdir()
            start = time.perf_counter()
            # In its own process: Linux keeps a process's peak RSS across exec, so generating the
            # data here would inflate the measuring children's peak.
            _child("--write", str(folder))
            print(f"wrote synthetic ratings.dat in {time.perf_counter() - start:.1f} s")
        for split in args.splits:
            cache = Path(tmp) / f"cache-{split}"
            for label in ("cold", "cached"):
                row = json.loads(_child("--measure", str(folder), str(cache), split).strip().splitlines()[-1])
                print(f"{label:<6} {json.dumps(row)}")


if __name__ == "__main__":
    main()
