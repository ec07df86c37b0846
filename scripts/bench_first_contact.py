"""Time a new user's first commands and count the lines the quick start prints.

Runs, each as a fresh subprocess from a temporary working folder (so ``outputs/`` lands there):
``python run.py --help``, ``python run.py --cfg job`` and the quick start ``python run.py``
(``model=pop`` too, for the MLP-versus-Pop comparison). Prints the median, min and max wall
seconds over ``--repeats`` runs, the quick start's train seconds and test NDCG@10 (from its
results.json), and the number of console lines the quick start prints to a file (no TTY) and to a
terminal (through ``script``, when it is installed).

The child processes get the caller's environment minus ``WANDB_SILENT``, so the console is what a
new user sees; ``WANDB_MODE`` defaults to offline as in the config.

    python scripts/bench_first_contact.py                  # 5 repeats of each
    python scripts/bench_first_contact.py --repeats 3 --skip-console
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = [sys.executable, str(ROOT / "run.py")]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SILENT"}
    env["PYTHONPATH"] = str(ROOT)  # the checkout under test, not an installed recbench
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one subprocess and its output; fails loudly on a non-zero exit.

    CPU seconds (user + system, the child and its children) depend less on other processes
    than wall seconds do, so they are the better guide on a shared machine.
    """
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return seconds, children_cpu() - cpu, done.stdout


def latest_results(cwd: Path) -> dict:
    paths = sorted((cwd / "outputs").rglob("results.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(paths[-1].read_text())


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f}  (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def console_lines(cwd: Path) -> tuple[int, int | None, str]:
    """Lines of ``python run.py`` to a file, and under a pseudo-terminal (None without ``script``)."""
    log = cwd / "console.log"
    with log.open("w") as handle:
        subprocess.run(RUN, cwd=cwd, env=child_env(), stdout=handle, stderr=subprocess.STDOUT, check=True)
    file_text = log.read_text()
    tty_lines = None
    if shutil.which("script"):
        typescript = cwd / "tty.log"
        env = {**child_env(), "COLUMNS": "120", "LINES": "40"}
        subprocess.run(["script", "-qec", shlex.join(RUN), str(typescript)], cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        # Progress bars redraw with carriage returns: count the lines a terminal keeps.
        tty_lines = typescript.read_text(errors="replace").count("\n")
    return file_text.count("\n"), tty_lines, file_text


def main() -> None:
    global ROOT, RUN
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the recbench checkout to measure [this one]")
    parser.add_argument("--repeats", type=int, default=5, help="runs of --help and --cfg job [5]")
    parser.add_argument("--quick-repeats", type=int, default=5, help="runs of each quick start [5]")
    parser.add_argument("--skip-console", action="store_true", help="do not count console lines")
    parser.add_argument("--show-console", action="store_true", help="print the quick start's console (file)")
    args = parser.parse_args()
    ROOT = args.root.resolve()
    RUN = [sys.executable, str(ROOT / "run.py")]

    with tempfile.TemporaryDirectory(prefix="recbench-first-contact-") as folder:
        cwd = Path(folder)
        print(f"{ROOT}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
        rows: dict[str, list[tuple[float, float]]] = {}
        for label, extra in [("run.py --help", ["--help"]), ("run.py --cfg job", ["--cfg", "job"])]:
            rows[label] = [timed(RUN + extra, cwd)[:2] for _ in range(args.repeats)]
        train_seconds, ndcg, epochs = {}, {}, {}
        for model, extra in [("mlp", []), ("pop", ["model=pop"])]:
            label = f"run.py {' '.join(extra) or '(quick start)'}"
            rows[label], train_seconds[model] = [], []
            for _ in range(args.quick_repeats):
                rows[label].append(timed(RUN + extra, cwd)[:2])
                results = latest_results(cwd)
                train_seconds[model].append(results["timing"]["train_seconds"])
                ndcg[model] = results["metrics"]["test/ndcg@10"]
                epochs[model] = results["timing"].get("epochs")
            print(f"{label} done", flush=True)
        print(f"\n{'command':<26} {'wall seconds':<44} CPU seconds")
        for label, values in rows.items():
            print(f"{label:<26} {spread([w for w, _ in values]):<44} {spread([c for _, c in values])}")
        print(f"\nquick start (mlp): train seconds {spread(train_seconds['mlp'])}, epochs {epochs['mlp']}")
        print(f"test/ndcg@10 (seed 42): mlp {ndcg['mlp']:.4f}, pop {ndcg['pop']:.4f}")
        print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
        if not args.skip_console:
            file_lines, tty_lines, text = console_lines(cwd)
            print(f"\nconsole of python run.py: {file_lines} lines to a file, "
                  f"{tty_lines if tty_lines is not None else 'n/a (no script command)'} lines on a terminal")
            if args.show_console:
                print("\n--- console (file) ---\n" + text)


if __name__ == "__main__":
    main()
