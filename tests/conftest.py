"""In CI a test that skips for want of the real datasets (or a service CI provides) is a failure.

Locally such tests skip, so the suite runs without the shared datasets; CI (``CI=true``, set by
``.ci/run`` and by most CI services) has them, so a skip there means a broken set-up that would
otherwise pass silently.
"""

from __future__ import annotations

import os

import pytest

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
