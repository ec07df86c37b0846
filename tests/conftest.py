"""Checks before any test runs: a wrong data folder stops the session instead of skipping tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR_ENV = "RECBENCH_DATA_DIR"


def data_dir_problem(value: str | None) -> str | None:
    """Why ``$RECBENCH_DATA_DIR`` cannot be used, or None when it is unset or a usable folder.

    Unset means "no real data here" (those tests skip, with the reason); set but empty, relative
    or missing is a mistake in the set-up (for example a ``$(cd ... && pwd)`` that failed), which
    would otherwise skip the real-data tests without anyone noticing.
    """
    if value is None:
        return None
    if not value:
        return f"{DATA_DIR_ENV} is set but empty: unset it, or set it to the absolute path of the datasets folder"
    if not Path(value).is_absolute():
        return (f"{DATA_DIR_ENV}={value} is a relative path; some tests run from other folders: "
                f"use an absolute path, e.g. {DATA_DIR_ENV}=\"$(cd {value} && pwd)\"")
    if not Path(value).is_dir():
        return f"{DATA_DIR_ENV}={value} is not a folder: fix the path or unset it"
    return None


def pytest_configure(config: pytest.Config) -> None:
    problem = data_dir_problem(os.environ.get(DATA_DIR_ENV))
    if problem:
        raise pytest.UsageError(problem)
