"""tests/conftest.py: a real-data test that skips fails when CI is set."""

from pathlib import Path

pytest_plugins = ["pytester"]

HOOK = (Path(__file__).parent / "conftest.py").read_text()
INNER = '''
import pytest

@pytest.mark.skipif(True, reason="RECBENCH_DATA_DIR is not set")
def test_real_data():
    pass

def test_other_skip():
    pytest.skip("needs a GPU")
'''


def test_real_data_skip_fails_in_ci(pytester, monkeypatch):
    pytester.makeconftest(HOOK)
    pytester.makepyfile(INNER)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1, skipped=1)  # a skipif fires in setup, so it reports as an error
    result.stdout.fnmatch_lines(["*skipped in CI, where it must run*"])
    assert result.ret != 0
    monkeypatch.setenv("CI", "")
    pytester.runpytest_inprocess().assert_outcomes(skipped=2)
