"""``recbench new-plugin``: the generated plugin runs, and its generated test passes as generated.

Scaffolding happens in a temporary copy of the checkout, so no test leaves files in the repository.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recbench.cli import main as cli_main
from recbench.errors import RecbenchError
from recbench.scaffold import class_name_for, plan, write
from tests.helpers import TINY_DATA

REPO = Path(__file__).resolve().parent.parent
CHECKOUT_PARTS = ["run.py", "pyproject.toml", "conf", "plugins", "recbench", "hydra_plugins",
                  "tests/__init__.py", "tests/helpers.py"]


def copy_checkout(dest: Path) -> Path:
    """The parts of the checkout that running and testing a plugin needs."""
    for part in CHECKOUT_PARTS:
        source, target = REPO / part, dest / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return dest


def python(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def assert_run_results(run_dir: Path, name: str, target: str) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"]["name"] == name and results["model"]["target"] == target
    metrics = results["metrics"]
    assert all(math.isfinite(metrics[f"test/{m}@10"]) for m in ("ndcg", "recall", "hitrate"))
    assert metrics["test/hitrate@10"] > 0


@pytest.mark.parametrize("kind", ["fit", pytest.param("neural", marks=pytest.mark.slow)])
def test_scaffolded_plugin_runs_and_passes_its_generated_test(kind, tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    python(["-m", "recbench", "new-plugin", "myrec", "--kind", kind], cwd=checkout)
    assert (checkout / "plugins" / "myrec.py").is_file() and (checkout / "conf" / "model" / "myrec.yaml").is_file()

    tests = python(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_plugin_myrec.py"], cwd=checkout)
    expected = "2 passed" if kind == "neural" else "1 passed"  # neural: the contract and the DDP run
    assert expected in tests.stdout, tests.stdout

    python(["run.py", "model=myrec", "logger=none", *TINY_DATA, f"hydra.run.dir={tmp_path / 'run'}"],
           cwd=checkout)
    assert_run_results(tmp_path / "run", "myrec", "plugins.myrec.Myrec")


@pytest.mark.slow
def test_scaffolded_package_installs_runs_and_passes_its_generated_test(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    python(["-m", "recbench", "new-plugin", "mycooc", "--kind", "fit", "--package", "--class-name", "MyCooc",
            "--root", str(tmp_path)], cwd=checkout)
    package = tmp_path / "recbench-mycooc"

    tests = python(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=package, PYTHONPATH=str(checkout))
    assert "1 passed" in tests.stdout, tests.stdout

    site = tmp_path / "site"
    python(["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
            "--target", str(site), str(package)], cwd=tmp_path)
    python(["run.py", "model=mycooc", "logger=none", *TINY_DATA, f"hydra.run.dir={tmp_path / 'run'}"],
           cwd=checkout, PYTHONPATH=str(site))
    assert_run_results(tmp_path / "run", "mycooc", "recbench_mycooc.mycooc.MyCooc")


@pytest.mark.parametrize("kind, package", [("fit", False), ("neural", False), ("fit", True), ("neural", True)])
def test_generated_files_are_valid_python_and_yaml(kind, package, tmp_path):
    from omegaconf import OmegaConf

    scaffold = plan("my_model", kind, package, REPO, class_name="MyModel")
    for path, text in scaffold.files.items():
        assert "$" not in text, f"{path} has an unfilled placeholder"
        if path.endswith(".py"):
            compile(text, path, "exec")
        if path.endswith(".yaml"):
            target = OmegaConf.create(text)._target_
            assert target == ("recbench_my_model.my_model.MyModel" if package else "plugins.my_model.MyModel")
    assert set(scaffold.files) == ({"pyproject.toml", "recbench_my_model/__init__.py", "recbench_my_model/my_model.py",
                                    "recbench_my_model/conf/model/my_model.yaml", "tests/test_my_model.py"}
                                   if package else
                                   {"plugins/my_model.py", "conf/model/my_model.yaml", "tests/test_plugin_my_model.py"})


def test_class_names_are_camel_case():
    assert class_name_for("item_knn") == "ItemKnn" and class_name_for("gmf") == "Gmf"


@pytest.mark.parametrize("name", ["GMF", "2tower", "my-model", "class", ""])
def test_a_bad_plugin_name_is_refused(name):
    with pytest.raises(RecbenchError, match="must be a lowercase Python identifier"):
        plan(name, "fit", False, REPO)


def test_an_existing_plugin_is_not_overwritten_and_nothing_is_written(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    with pytest.raises(RecbenchError, match=r"not overwriting .*conf/model/mlp.yaml"):
        write(plan("mlp", "neural", False, checkout))
    assert not (checkout / "tests" / "test_plugin_mlp.py").exists()
    assert (checkout / "plugins" / "mlp.py").read_text() == (REPO / "plugins" / "mlp.py").read_text()


def test_outside_a_checkout_the_cli_says_what_to_do(tmp_path, capsys):
    assert cli_main(["new-plugin", "foo", "--kind", "fit", "--root", str(tmp_path)]) == 1
    assert "is not a recbench checkout (no run.py, conf/model/ and plugins/)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
