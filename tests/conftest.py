"""Checks around every test run.

- A wrong data folder stops the session instead of skipping tests.
- In CI a test that skips for want of the real datasets (or a service CI provides) is a failure.
  Locally such tests skip, so the suite runs without the shared datasets; CI (``CI=true``, set by
  ``.ci/run`` and by most CI services) has them, so a skip there means a broken set-up that would
  otherwise pass silently.
"""

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


# Words in a skip reason that mean "the real data or a CI service is absent".
CI_REQUIRED = ("RECBENCH_DATA_DIR", "RECBENCH_TEST_POSTGRES_URL")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and _in_ci()):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(word in reason for word in CI_REQUIRED):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {reason}"
