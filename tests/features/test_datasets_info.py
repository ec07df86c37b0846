"""``recbench datasets info`` lists each feature with its kind, dimension and coverage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.features.conftest import needs_dataset

ROOT = Path(__file__).resolve().parents[2]


@needs_dataset("ml-100k")
def test_info_lists_the_features_of_ml100k(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "recbench", "datasets", "info", "ml-100k",
                                "--cache-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr
    lines = {tuple(line.split()[:3]): line.split()[3:] for line in completed.stdout.splitlines()
             if line.startswith("  item") or line.startswith("  user")}
    assert lines[("item", "genres", "categorical")] == ["19", "100.0%"]
    assert lines[("item", "year", "numeric")] == ["1", "99.9%"]  # one movie has no release date
    assert lines[("item", "text", "text")] == ["2,048", "100.0%"]
    assert lines[("user", "occupation", "categorical")] == ["21", "100.0%"]
    assert "text encoded by tfidf" in completed.stdout


def test_info_refuses_an_unknown_encoder(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "recbench", "datasets", "info", "synthetic",
                                "--encoder", "bert"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert completed.returncode == 1
    assert "unknown encoder 'bert': use tfidf or minilm" in completed.stderr and "Traceback" not in completed.stderr
