"""A plugin package installed with pip becomes ``model=<name>`` through its entry point.

The example package in ``tests/fixtures/recbench-itemavg`` is installed by pip into a temporary
target folder (copied first, so the build leaves nothing in the repository); putting that folder
on ``PYTHONPATH`` or ``sys.path`` makes its dist-info, and so its entry point, visible.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from hydra_plugins.recbench_searchpath.searchpath import plugin_conf_dirs
from recbench.errors import RecbenchError
from recbench.testing import check_plugin
from recbench.testing.conformance import compose_model
from tests.helpers import TINY_DATA

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "recbench-itemavg"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder into which pip installed the example package."""
    tmp = tmp_path_factory.mktemp("plugin-package")
    source = shutil.copytree(FIXTURE, tmp / "source")
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True)
    return target


def test_pip_installs_the_package_with_its_conf_folder(site):
    assert (site / "recbench_itemavg" / "conf" / "model" / "itemavg.yaml").is_file()
    entry_points = next(site.glob("recbench_itemavg-*.dist-info")) / "entry_points.txt"
    assert "[recbench.plugins]\nitemavg = recbench_itemavg" in entry_points.read_text()


def test_installed_package_runs_as_a_model_through_run_py(site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    run_dir = tmp_path / "run"
    subprocess.run([sys.executable, "run.py", "model=itemavg", "model.shrinkage=2.0", "logger=none",
                    *TINY_DATA, f"hydra.run.dir={run_dir}"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"] == {"name": "itemavg", "target": "recbench_itemavg.itemavg.ItemAverage",
                                "n_params": 0}
    assert results["config"]["model"]["shrinkage"] == 2.0
    test_metrics = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
    assert len(test_metrics) > 10 and all(math.isfinite(v) for v in test_metrics.values())
    assert results["metrics"]["test/hitrate@20"] > 0.3  # a co-occurrence model finds held-out items


def test_without_the_package_the_model_is_unknown():
    with pytest.raises(RecbenchError, match="no model config named 'itemavg'"):
        compose_model("itemavg", REPO)


def test_search_path_plugin_adds_the_package_conf_folder(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    assert ("itemavg", (site / "recbench_itemavg" / "conf").resolve()) in plugin_conf_dirs()
    assert compose_model("itemavg", REPO)._target_ == "recbench_itemavg.itemavg.ItemAverage"


def test_installed_package_passes_the_conformance_kit(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    assert check_plugin("itemavg", repo_root=REPO).kind == "fit"


def test_a_built_in_model_wins_over_a_package_model_of_the_same_name(site, monkeypatch, tmp_path):
    shadow = shutil.copytree(site, tmp_path / "site")
    (shadow / "recbench_itemavg" / "conf" / "model" / "pop.yaml").write_text(
        "_target_: recbench_itemavg.itemavg.ItemAverage\n")
    monkeypatch.syspath_prepend(str(shadow))
    assert compose_model("pop", REPO)._target_ == "plugins.pop.Pop"


def test_an_entry_point_naming_a_missing_package_warns_and_is_skipped(tmp_path, monkeypatch):
    dist = tmp_path / "recbench_ghost-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: recbench-ghost\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[recbench.plugins]\nghost = recbench_ghost_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = plugin_conf_dirs()
    assert all(name != "ghost" for name, _ in found)
    assert any("'recbench_ghost_missing', which is not an installed Python package" in str(w.message)
               for w in caught)
