"""Hydra discovers recbench's search-path plugin here (``hydra_plugins`` is a namespace package)."""
