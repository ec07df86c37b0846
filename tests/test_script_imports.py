"""The benchmark and comparison scripts in scripts/ import names that still exist in recbench.

The scripts run outside the test suite (some in a peer library's virtual environment), so a
renamed or moved function would otherwise break them silently until the next benchmark.
"""

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "scripts").glob("*.py"))


def recbench_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from recbench... import name`` in the file, nested ones too."""
    tree = ast.parse(path.read_text())
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "recbench"
            for alias in node.names]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_resolve(script):
    missing = []
    for module_name, name in recbench_imports(script):
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"{script.name} imports names recbench no longer has: {missing}"


def test_the_check_sees_a_missing_name(tmp_path):
    script = tmp_path / "stale.py"
    script.write_text("def main():\n    from recbench.data.feature_loading import attach_features\n")
    assert recbench_imports(script) == [("recbench.data.feature_loading", "attach_features")]
    assert not hasattr(importlib.import_module("recbench.data.feature_loading"), "attach_features")
