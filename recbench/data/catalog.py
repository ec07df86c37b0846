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


def catalog_names() -> list[str]:
    """Names of the catalog's datasets (the values ``dataset=`` takes)."""
    return sorted(path.stem for path in catalog_dir().glob("*.yaml"))


def catalog_entry(name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config of dataset ``name`` with ``key=value`` overrides (keys relative to the entry).

    Raises:
        RecbenchError: an unknown name (listing the known ones) or a malformed override.
    """
    path = catalog_dir() / f"{name}.yaml"
    if not path.is_file():
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


def description(name: str) -> str:
    """The first comment line of the entry's file."""
    for line in (catalog_dir() / f"{name}.yaml").read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
