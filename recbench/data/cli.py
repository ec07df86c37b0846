"""``recbench datasets list | info NAME | download NAME``."""

from __future__ import annotations

import argparse
import logging
import os

from recbench.data.catalog import catalog_entry, catalog_names, description
from recbench.data.encoders import MiniLMEncoder, TfidfEncoder
from recbench.data.feature_loading import SIDES, declared_features, load_features
from recbench.data.loading import dataset_files, dataset_folder, load_dataset
from recbench.data.preprocess import statistics
from recbench.data.sources import DEFAULT_CACHE_DIR, locate_dataset
from recbench.errors import RecbenchError


def _cache_dir(args) -> str:
    return args.cache_dir or os.environ.get("RECBENCH_CACHE_DIR") or DEFAULT_CACHE_DIR


def _where(name: str, cache_dir: str) -> str:
    """Where a local copy is, or why there is none, without downloading."""
    entry = catalog_entry(name)
    files = dataset_files(entry) if "source" in entry and "???" not in str(entry.source.get("file", "")) else []
    if "source" not in entry or entry.source.get("_target_", "").endswith("generate_synthetic"):
        return "generated"
    if not files:
        return "needs dataset.source.file"
    try:
        return str(locate_dataset(entry.name, files, path=entry.get("path"), cache_dir=cache_dir, download=False))
    except RecbenchError:
        return "downloadable" if entry.get("url") else "missing"


def list_datasets(args) -> int:
    cache_dir = _cache_dir(args)
    rows = [(name, _where(name, cache_dir), description(name)) for name in catalog_names()]
    width = max(len(name) for name, _, _ in rows)
    for name, where, text in rows:
        print(f"{name:<{width}}  {text}\n{'':<{width}}  -> {where}")
    return 0


def _show_progress() -> None:
    """Print what loading and preprocessing log (which file, what each step removed)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


ENCODERS = {"tfidf": TfidfEncoder, "minilm": MiniLMEncoder}


def info(args) -> int:
    if args.encoder not in ENCODERS:
        raise RecbenchError(f"unknown encoder {args.encoder!r}: use {' or '.join(ENCODERS)}")
    _show_progress()
    entry = catalog_entry(args.name, args.overrides)
    data = load_dataset(entry, cache_dir=_cache_dir(args))
    stats = statistics(data)
    print(f"{entry.name} after preprocessing ({dict(entry.get('preprocess', {}))}):")
    for key, value in stats.items():
        print(f"  {key:<22} {value:,}" if isinstance(value, int) else f"  {key:<22} {value:.6g}")
    if declared_features(entry):
        print_features(entry, data, args)
    return 0


def print_features(entry, data, args) -> None:
    """Each feature's kind, dimension and coverage (text encoded with ``--encoder``)."""
    folder = dataset_folder(entry, cache_dir=_cache_dir(args))
    data, record = load_features(entry, data, folder, ENCODERS[args.encoder](), _cache_dir(args))
    print(f"features{f' (text encoded by {record.name}, {record.version})' if record else ''}:")
    print(f"  {'side':<5} {'field':<14} {'kind':<12} {'dimension':>9} {'coverage':>9}")
    for side in SIDES:
        matrix = getattr(data, f"{side}_features")
        for name, kind, dim, coverage in (matrix.describe() if matrix is not None else []):
            print(f"  {side:<5} {name:<14} {kind:<12} {dim:>9,} {coverage:>8.1%}")


def download(args) -> int:
    _show_progress()
    entry = catalog_entry(args.name, args.overrides)
    if not entry.get("url"):
        raise RecbenchError(f"dataset {args.name!r} has no download url: set url=... (and sha256=...)")
    folder = dataset_folder(entry, cache_dir=_cache_dir(args))
    print(f"{entry.name}: {folder}")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="list, inspect and download datasets")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", help=f"cache folder (default $RECBENCH_CACHE_DIR or {DEFAULT_CACHE_DIR})")
    actions.add_parser("list", parents=[common], help="the catalog and where each dataset is").set_defaults(
        handler=list_datasets)
    for name, handler, text in (("info", info, "statistics after preprocessing"),
                                ("download", download, "download, verify and extract into the cache")):
        sub = actions.add_parser(name, parents=[common], help=text)
        sub.add_argument("name", help="catalog name (see `recbench datasets list`)")
        sub.add_argument("overrides", nargs="*", help="entry overrides, e.g. preprocess.min_rating=4")
        if handler is info:
            sub.add_argument("--encoder", default="tfidf", help="text encoder for text features: tfidf or minilm")
        sub.set_defaults(handler=handler)
