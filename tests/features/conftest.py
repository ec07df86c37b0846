"""Shared helpers of the feature tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def needs_dataset(name: str):
    """Skip unless ``$RECBENCH_DATA_DIR/<name>`` exists (real-data tests)."""
    root = os.environ.get("RECBENCH_DATA_DIR")
    present = bool(root) and (Path(root) / name).is_dir()
    return pytest.mark.skipif(not present, reason=f"{name} not in $RECBENCH_DATA_DIR")
