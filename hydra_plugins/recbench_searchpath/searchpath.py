"""Adds the ``conf/`` folder of every installed recbench plugin package to Hydra's search path.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."recbench.plugins"]
    itemavg = "recbench_itemavg"    # the value names one of its Python packages

and ships ``recbench_itemavg/conf/model/itemavg.yaml`` as package data. After ``pip install``,
``python run.py model=itemavg`` finds that file: Hydra calls this plugin while it builds its
search path, and the plugin appends each package's ``conf/`` folder after recbench's own, so a
package can add options to any config group but never replaces a built-in one.

Hydra imports every module under ``hydra_plugins`` on start, so this module imports nothing heavy
and locates packages without importing them.
"""

from __future__ import annotations

import importlib.util
import warnings
from importlib.metadata import entry_points
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

ENTRY_POINT_GROUP = "recbench.plugins"


def plugin_conf_dirs() -> list[tuple[str, Path]]:
    """``(entry point name, conf folder)`` of each installed plugin package that has one.

    Entry points are sorted by name so the search path is the same on every machine. A package
    that cannot be found is reported with a warning and skipped rather than breaking every run.
    """
    found = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (p.name, p.value)):
        package = point.value.split(":")[0].strip()
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            warnings.warn(f"recbench plugin entry point {point.name!r} names {package!r}, which is not an "
                          f"installed Python package: reinstall the plugin or fix its "
                          f"[project.entry-points.\"{ENTRY_POINT_GROUP}\"] table", stacklevel=2)
            continue
        for location in locations:
            conf = Path(location) / "conf"
            if conf.is_dir():
                found.append((point.name, conf.resolve()))
    return found


class RecbenchPluginSearchPath(SearchPathPlugin):
    """Appends ``<package>/conf`` of every ``recbench.plugins`` entry point to the search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for name, conf in plugin_conf_dirs():
            search_path.append(provider=f"recbench-plugin-{name}", path=conf.as_uri())
