"""Writing a run's results so that nothing half-written is ever left behind."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd

RESULTS_FILE = "results.json"
_PACKAGES = ["recbench", "torch", "pytorch-lightning", "hydra-core", "omegaconf", "numpy", "scipy",
             "pandas", "pyarrow", "optuna", "wandb"]


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` into a temporary file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON atomically."""
    _atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    _atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame as Parquet atomically."""
    _atomic_write(Path(path), lambda tmp: frame.to_parquet(tmp, index=False))


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the libraries a result depends on."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_revision() -> str | None:
    """The commit of the recbench checkout, with ``-dirty`` when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")
