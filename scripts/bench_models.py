"""Speed of every model plugin: fit seconds (fit path) or seconds per training epoch (gradient
path), and full-ranking evaluation seconds, on ML-100K and on a synthetic dataset of ML-1M size.

Every model with a config in ``conf/model/`` is measured, so plugins added later are included
without editing this file. When ``conf/experiment/<model>_ml100k.yaml`` exists its ``model:``
settings (the tuned hyperparameters) are used on both datasets.

    python scripts/bench_models.py                        # all models, both datasets
    python scripts/bench_models.py --models ease ials --datasets ml-100k --epochs 2
    python scripts/bench_models.py --output bench.json    # also write the rows as JSON

Each run trains once on the 64% training part of ``split=ratio_80_20`` (no refit), evaluates
the validation users, then times the evaluation of the test users. Gradient models run
``--epochs`` epochs; their seconds per epoch exclude validation.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from recbench.experiment import train

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DATASETS = {
    "ml-100k": ["dataset=ml-100k"],
    "synthetic-ml1m": ["dataset=synthetic", "dataset.source.n_users=6040", "dataset.source.n_items=3706",
                       "dataset.source.mean_interactions=165"],
}


class EpochTimer(pl.Callback):
    """Seconds of each training epoch, validation excluded."""

    def __init__(self):
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds.append(time.perf_counter() - self._start)


def tuned_overrides(model: str) -> list[str]:
    """``model.key=value`` overrides from the model's ML-100K experiment file, if there is one."""
    path = CONF_DIR / "experiment" / f"{model}_ml100k.yaml"
    if not path.exists():
        return []
    settings = (yaml.safe_load(path.read_text()) or {}).get("model") or {}

    def flatten(prefix: str, value) -> list[str]:
        if isinstance(value, dict):
            return [item for key, inner in value.items() for item in flatten(f"{prefix}.{key}", inner)]
        return [f"{prefix}={json.dumps(value)}"]

    return flatten("model", settings)


def measure(model: str, dataset: str, epochs: int, output_dir: str) -> dict:
    """Train and evaluate one model on one dataset; return its timing row."""
    overrides = ["logger=none", f"model={model}", *DATASETS[dataset], "split=ratio_80_20",
                 "evaluation.refit=false", f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false",
                 *tuned_overrides(model)]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
        cfg.evaluation.patience = epochs  # never stop early: every epoch is timed
        del cfg["hydra"]
    timer = EpochTimer()
    results = train(cfg, extra_callbacks=[timer])
    timing = results["timing"]
    row = {"model": model, "dataset": dataset, "eval_seconds": round(timing["eval_seconds"], 3),
           "test/ndcg@20": round(results["metrics"]["test/ndcg@20"], 4)}
    if timing["epochs"] is None:
        row.update(kind="fit", fit_seconds=round(timing["train_seconds"], 3))
    else:
        row.update(kind="gradient", epochs=len(timer.seconds),
                   seconds_per_epoch=round(sum(timer.seconds) / max(len(timer.seconds), 1), 3))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml")))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--epochs", type=int, default=3, help="training epochs timed for gradient models")
    parser.add_argument("--output", type=Path, help="write the rows to this JSON file")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as output_dir:
        for dataset in args.datasets:
            for model in args.models:
                rows.append(measure(model, dataset, args.epochs, output_dir))
                print(json.dumps(rows[-1]), flush=True)
    print("\n| model | dataset | fit s | s/epoch | eval s | test ndcg@20 |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['dataset']} | {row.get('fit_seconds', '')} | "
              f"{row.get('seconds_per_epoch', '')} | {row['eval_seconds']} | {row['test/ndcg@20']} |")
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
