"""Time a new user's first commands and count the lines the quick start prints.

Runs, each as a fresh subprocess from a temporary working folder (so ``outputs/`` lands there):
``python run.py --help``, ``python run.py --cfg job`` and the quick start ``python run.py``
(``model=pop`` too, for the MLP-versus-Pop comparison). Prints each sample as it comes, then the
median, min and max wall and CPU seconds, the quick start's train seconds and test NDCG@10 (from
its results.json), and the number of console lines the quick start prints to a pipe (no TTY) and
to a terminal (through ``script``, when it is installed; that run is timed too).

The child processes get the caller's environment minus ``WANDB_SILENT``, so the console is what a
new user sees; ``WANDB_MODE`` defaults to offline as in the config.

    python scripts/bench_first_contact.py                  # 5 repeats of each
    python scripts/bench_first_contact.py --root ../recbench-v0.1 --repeats 3 --quick-repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


def tty_run(cwd: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of ``python run.py`` under a pseudo-terminal, and the lines it leaves."""
    typescript = cwd / "tty.log"
    env = {**child_env(), "COLUMNS": "120", "LINES": "40", "TERM": os.environ.get("TERM", "xterm-256color")}
    cpu = children_cpu()
    start = time.perf_counter()
    subprocess.run(["script", "-qec", shlex.join(RUN), str(typescript)], cwd=cwd, env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    seconds = time.perf_counter() - start
    with open(typescript, errors="replace", newline="") as file:  # keep carriage returns as they are
        lines = screen_lines(file.read())
    # Less script's own first and last line, and blank ones.
    return seconds, children_cpu() - cpu, sum(1 for line in lines[1:-1] if line.strip()) - 1


def screen_lines(text: str) -> list[str]:
    """The lines a terminal holds once ``text`` is written to it, scrollback included.

    Progress bars redraw in place with carriage returns, erase-line (ESC[2K) and cursor-up
    (ESC[nA), so counting newlines would count every redraw. Those three and newlines are
    interpreted; other escape sequences (colours) are dropped.
    """
    lines, row, col = [""], 0, 0
    for token in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\r|\n)", text):
        if token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            if token.endswith("A"):
                row = max(0, row - int(token[2:-1] or 1))
            elif token == "\x1b[2K":
                lines[row] = ""
        elif token:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token):]
            col += len(token)
    return lines


def main() -> None:
    global ROOT, RUN
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the recbench checkout to measure [this one]")
    parser.add_argument("--repeats", type=int, default=5, help="runs of --help and --cfg job [5]")
    parser.add_argument("--quick-repeats", type=int, default=5, help="runs of the quick start [5]")
    parser.add_argument("--pop-repeats", type=int, default=1, help="runs of model=pop [1]")
    parser.add_argument("--no-tty", action="store_true", help="skip the run under a pseudo-terminal")
    parser.add_argument("--show-console", action="store_true", help="print the quick start's console (file)")
    args = parser.parse_args()
    ROOT = args.root.resolve()
    RUN = [sys.executable, str(ROOT / "run.py")]

    with tempfile.TemporaryDirectory(prefix="recbench-first-contact-") as folder:
        cwd = Path(folder)
        print(f"{ROOT}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
        rows: dict[str, list[tuple[float, float]]] = {}

        def sample(label: str, wall: float, cpu: float) -> None:
            rows.setdefault(label, []).append((wall, cpu))
            print(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU (load {os.getloadavg()[0]:.1f})", flush=True)

        for label, extra in [("run.py --help", ["--help"]), ("run.py --cfg job", ["--cfg", "job"])]:
            for _ in range(args.repeats):
                sample(label, *timed(RUN + extra, cwd)[:2])
        train_seconds, ndcg, epochs, console = {}, {}, {}, None
        for model, extra, repeats in [("mlp", [], args.quick_repeats), ("pop", ["model=pop"], args.pop_repeats)]:
            label = f"run.py {' '.join(extra) or '(quick start)'}"
            for _ in range(repeats):
                wall, cpu, output = timed(RUN + extra, cwd)
                console = console or output  # the quick start's console, printed to a pipe
                sample(label, wall, cpu)
                results = latest_results(cwd)
                train_seconds.setdefault(model, []).append(results["timing"]["train_seconds"])
                ndcg[model] = results["metrics"]["test/ndcg@10"]
                epochs[model] = results["timing"].get("epochs")
                print(f"    train {train_seconds[model][-1]:.2f} s, epochs {epochs[model]}, "
                      f"test/ndcg@10 {ndcg[model]:.4f}", flush=True)
        tty_lines = None
        if not args.no_tty and shutil.which("script"):
            wall, cpu, tty_lines = tty_run(cwd)
            sample("run.py on a terminal", wall, cpu)

        print(f"\n{'command':<26} {'wall seconds':<44} CPU seconds")
        for label, values in rows.items():
            print(f"{label:<26} {spread([w for w, _ in values]):<44} {spread([c for _, c in values])}")
        if "mlp" in train_seconds:
            print(f"\nquick start (mlp): train seconds {spread(train_seconds['mlp'])}, epochs {epochs['mlp']}")
        print("test/ndcg@10 (seed 42): " + ", ".join(f"{m} {v:.4f}" for m, v in ndcg.items()))
        piped = console.count(chr(10)) if console is not None else "n/a"
        print(f"console of python run.py: {piped} lines to a pipe or file, "
              f"{tty_lines if tty_lines is not None else 'n/a'} lines on a terminal")
        print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
        if args.show_console and console is not None:
            print("\n--- console (pipe) ---\n" + console)


if __name__ == "__main__":
    main()
