"""The dataset catalog: the entries in ``conf/dataset/*.yaml``, read without composing a run."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from recbench.errors import RecbenchError

# The catalog is the checkout's conf/dataset folder, the same files Hydra composes runs from; it is
# not inside the Python package, so recbench works from a checkout installed with pip install -e.
CATALOG_DIR = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def catalog_dir() -> Path:
    """The catalog folder, or a clear error when recbench runs outside its checkout."""
    if not CATALOG_DIR.is_dir():
        raise RecbenchError(f"the dataset catalog ({CATALOG_DIR}) is missing: recbench reads it from the conf/ "
                            "folder of its checkout. Install recbench from a checkout with "
                            "'pip install -e .' and run it there")
    return CATALOG_DIR


def catalog_files() -> dict[str, Path]:
    """``{name: file}`` of every catalog entry: recbench's own, then installed plugin packages'.

    A plugin package never replaces a built-in entry (as on Hydra's search path).
    """
    from hydra_plugins.recbench_searchpath.searchpath import plugin_conf_dirs

    files: dict[str, Path] = {}
    for folder in [catalog_dir(), *(conf / "dataset" for _, conf in plugin_conf_dirs())]:
        for path in sorted(folder.glob("*.yaml")):
            files.setdefault(path.stem, path)
    return files


def catalog_names() -> list[str]:
    """Names of the catalog's datasets (the values ``dataset=`` takes)."""
    return sorted(catalog_files())


def catalog_entry(name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config of dataset ``name`` with ``key=value`` overrides (keys relative to the entry).

    Raises:
        RecbenchError: an unknown name (listing the known ones) or a malformed override.
    """
    # The name is looked up among the entries, never joined into a path: '../../x' must not
    # load (and later instantiate) an arbitrary YAML file.
    path = catalog_files().get(name)
    if path is None:
        raise RecbenchError(f"unknown dataset {name!r}: choose one of {', '.join(catalog_names())}, "
                            "or use 'custom' with dataset.source.file set")
    entry = OmegaConf.load(path)
    if overrides:
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise RecbenchError(f"overrides must look like key=value (e.g. source.file=ratings.csv), got {bad}")
        entry = OmegaConf.merge(entry, OmegaConf.from_dotlist(
            [o.removeprefix("dataset.") for o in overrides]))
    return entry


def complete_entry(name: str, overrides: list[str] | None = None) -> DictConfig:
    """:func:`catalog_entry`, refused with one message when a mandatory value (``???``) is unset."""
    entry = catalog_entry(name, overrides)
    missing = sorted(OmegaConf.missing_keys(entry))
    if missing:
        raise RecbenchError(f"dataset {name!r} needs {', '.join(missing)}: add {missing[0]}=... after the name")
    return entry


def description(name: str) -> str:
    """The first comment line of the entry's file."""
    for line in catalog_files()[name].read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
