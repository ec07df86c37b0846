"""``recbench new-plugin NAME --kind neural|fit [--package]``: a working plugin, its config and its test.

In a recbench checkout it writes ``plugins/NAME.py``, ``conf/model/NAME.yaml`` and
``tests/test_plugin_NAME.py``; with ``--package`` it writes a pip-installable folder
``recbench-NAME/`` whose entry point puts its ``conf/`` on Hydra's search path. The files come
from the templates in ``recbench/templates/``; the generated model trains and passes its
generated test as it is, ready to be edited into the real model.
"""

from __future__ import annotations

import argparse
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from recbench.errors import RecbenchError, require

TEMPLATES = Path(__file__).resolve().parent / "templates"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Scaffold:
    """The files to write: path (relative to the destination) -> text."""

    root: Path
    files: dict[str, str]


def class_name_for(name: str) -> str:
    """``item_knn`` -> ``ItemKnn`` (pass ``--class-name`` to follow the paper, e.g. ``GMF``)."""
    return "".join(part.capitalize() for part in name.split("_") if part)


def plan(name: str, kind: str, package: bool, root: Path, class_name: str | None = None) -> Scaffold:
    """Decide the files of a new plugin without writing anything.

    Args:
        name: the config option name (``model=<name>``), also the module name.
        kind: ``"neural"`` (trained by gradient descent) or ``"fit"`` (fitted on the matrix).
        package: write a pip-installable package folder instead of files in a checkout.
        root: the recbench checkout (in-repo) or the folder to create the package folder in.
        class_name: the model class name; derived from ``name`` when None.
    """
    require(bool(_NAME.fullmatch(name)) and not keyword.iskeyword(name),
            f"plugin name {name!r} must be a lowercase Python identifier (letters, digits, _), "
            "as users type it in model=<name>")
    require(kind in ("neural", "fit"), f"--kind must be neural or fit, got {kind!r}")
    class_name = class_name or class_name_for(name)
    require(class_name.isidentifier() and not keyword.iskeyword(class_name),
            f"class name {class_name!r} is not a Python identifier")
    root = Path(root)
    values = {"name": name, "class_name": class_name}
    if package:
        package_name = f"recbench_{name}"
        values.update(package=package_name, target=f"{package_name}.{name}.{class_name}",
                      model_ref="CONFIG")
        base = root / f"recbench-{name}"
        files = {
            "pyproject.toml": "package_pyproject.toml",
            f"{package_name}/__init__.py": "package_init.py",
            f"{package_name}/{name}.py": f"{kind}.py",
            f"{package_name}/conf/model/{name}.yaml": f"{kind}.yaml",
            f"tests/test_{name}.py": "test_in_package.py",
        }
    else:
        require((root / "run.py").is_file() and (root / "conf" / "model").is_dir() and (root / "plugins").is_dir(),
                f"{root} is not a recbench checkout (no run.py, conf/model/ and plugins/): run "
                "`recbench new-plugin` in the checkout, pass --root, or use --package")
        values.update(package="plugins", target=f"plugins.{name}.{class_name}",
                      model_ref=f'"{name}", repo_root=REPO')
        base = root
        files = {
            f"plugins/{name}.py": f"{kind}.py",
            f"conf/model/{name}.yaml": f"{kind}.yaml",
            f"tests/test_plugin_{name}.py": "test_in_repo.py",
        }
    neural = kind == "neural"
    values["ddp_test"] = _render("ddp_test.py", values) if neural else ""
    values["pytest_import"] = "\nimport pytest\n" if neural else ""
    return Scaffold(base, {path: _render(template, values) for path, template in files.items()})


def write(scaffold: Scaffold) -> list[Path]:
    """Write the planned files; refuses (writing nothing) when any of them exists."""
    paths = [scaffold.root / relative for relative in scaffold.files]
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise RecbenchError(f"not overwriting {', '.join(existing)}: choose another plugin name or remove them")
    for path, text in zip(paths, scaffold.files.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return paths


def _render(template: str, values: dict[str, str]) -> str:
    return Template((TEMPLATES / f"{template}.tmpl").read_text()).substitute(values)


def _handle(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else Path.cwd()
    written = write(plan(args.name, args.kind, args.package, root, args.class_name))
    for path in written:
        print(f"wrote {path}")
    if args.package:
        where = root / f"recbench-{args.name}"
        print(f"next: pip install -e {where}  (then, in a recbench checkout: python run.py model={args.name}); "
              f"pytest {where / 'tests'}")
    else:
        print(f"next: python run.py model={args.name} logger=none; pytest tests/test_plugin_{args.name}.py")
    return 0


def add_parser(subparsers) -> None:
    """Add the ``new-plugin`` sub-command."""
    parser = subparsers.add_parser("new-plugin", help="write a new model plugin, its config and its test",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("name", help="the model's config option name (model=NAME), e.g. gmf")
    parser.add_argument("--kind", choices=["neural", "fit"], required=True,
                        help="neural: trained by gradient descent; fit: fitted on the training matrix")
    parser.add_argument("--package", action="store_true",
                        help="write a pip-installable package folder recbench-NAME/ instead")
    parser.add_argument("--class-name", help="the model class (default: NAME in CamelCase), e.g. GMF")
    parser.add_argument("--root", help="the recbench checkout, or where to put the package (default: .)")
    parser.set_defaults(handler=_handle)
