"""LightFM 1.17 on exactly recbench's splits and features, scored by recbench's evaluator.

LightFM is never a dependency of recbench: it lives in its own virtual environment, e.g.

    python -m venv ~/venvs/lightfm && ~/venvs/lightfm/bin/pip install "pip<25" numpy scipy cython setuptools wheel
    ~/venvs/lightfm/bin/pip install --no-use-pep517 --no-build-isolation lightfm==1.17   # lyst/lightfm#687

Three steps per seed, all driven from here (recbench's environment):

1. export: recbench loads the dataset, its features and the split (the same cache a run uses) and
   writes the training matrix, each stage's history and targets, the candidate items and the
   feature matrices as .npz/.npy files;
2. ``scripts/lightfm_side.py`` (in LightFM's environment) tunes LightFM on the validation targets
   and writes the chosen model's scores;
3. recbench evaluates those scores through its own fit-model path: the same masking, candidate
   set and metric definitions as every recbench model.

    python scripts/compare_lightfm.py --lightfm-python ~/venvs/lightfm/bin/python \\
        --seeds 1 2 3 dataset=ml-100k split=cold_items 'model.item_fields=[genres,text,year]'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from recbench.data.feature_needs import attach_features
from recbench.data.loading import load_dataset
from recbench.data.split_cache import cached_split
from recbench.evaluation.evaluator import Evaluator
from recbench.training.runner import run_fit_model

REPO = Path(__file__).resolve().parent.parent

REPORTED = ("test/ndcg@10", "test/recall@20", "test/all/ndcg@10", "test/all/recall@20")


def compose_run(overrides: list[str], cache_dir: str | None, user_side: bool) -> DictConfig:
    """The run config of ``model=hybridmf`` with ``overrides``: the features LightFM gets are exactly
    the ones hybridmf gets (``model.item_fields=[...]``, ``encoder=...``)."""
    sides = "[item,user]" if user_side else "[item]"
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["logger=none", "model=hybridmf", f"model.feature_inputs={sides}",
                                           *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = tempfile.mkdtemp(prefix="compare_lightfm_")
        if cache_dir:
            cfg.paths.cache_dir = cache_dir
    return cfg


def export(cfg: DictConfig, folder: Path):
    """Write the split and features for LightFM; returns the split (for the evaluation step)."""
    sides = tuple(cfg.model.feature_inputs)
    data = load_dataset(cfg.dataset, cache_dir=cfg.paths.cache_dir)
    data, _ = attach_features(cfg.dataset, data, cfg.model, cfg.get("encoder"), cfg.paths.cache_dir)
    split, _ = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed), cache_dir=cfg.paths.cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    sp.save_npz(folder / "train.npz", split.train)
    for stage in ("valid", "test"):
        history, target = split.stage(stage)
        sp.save_npz(folder / f"{stage}_history.npz", history)
        sp.save_npz(folder / f"{stage}_target.npz", target)
        candidates = split.candidate_items(stage)
        if candidates is not None:
            np.save(folder / f"candidates_{stage}.npy", candidates)
    for side in sides:
        matrix = data.item_features if side == "item" else data.user_features
        if matrix is not None:
            matrix = matrix.select(cfg.model.get(f"{side}_fields"))
            sp.save_npz(folder / f"{side}_features.npz", sp.csr_matrix(matrix.values))
    return split


class PrecomputedScores(torch.nn.Module):
    """A fit-path model whose scores were computed elsewhere (LightFM's, ``[n_users, n_items]``)."""

    def __init__(self, scores: np.ndarray):
        super().__init__()
        self.register_buffer("scores", torch.from_numpy(scores))
        self.n_users, self.n_items = scores.shape

    def fit(self, train) -> None:  # already trained
        pass

    def score(self, users: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return self.scores[users]


def evaluate_scores(cfg: DictConfig, split, scores: np.ndarray) -> dict[str, float]:
    """recbench's metrics of precomputed scores, through the fit-model path every model uses."""
    evaluator = Evaluator.from_config(cfg.evaluation).for_split(split, refit=False)
    outcome = run_fit_model(PrecomputedScores(scores), split, evaluator, torch.device("cpu"), refit=False)
    return {**outcome.valid.summary("valid"), **outcome.test.summary("test")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lightfm-python", required=True, help="python of LightFM's virtual environment")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--user-features", action="store_true", help="give LightFM the user features too")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wide", action="store_true", help="LightFM's wider grid (8 settings instead of 2)")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the per-seed metrics here (JSON)")
    parser.add_argument("overrides", nargs="*", help="recbench overrides: dataset=..., split=..., model.item_fields=...")
    args = parser.parse_args()

    rows = []
    for seed in args.seeds:
        cfg = compose_run([*args.overrides, f"seed={seed}"], args.cache_dir, args.user_features)
        with tempfile.TemporaryDirectory(prefix="lightfm_export_") as tmp:
            folder = Path(tmp)
            split = export(cfg, folder)
            subprocess.run([args.lightfm_python, str(REPO / "scripts" / "lightfm_side.py"), str(folder),
                            "--threads", str(args.threads), "--seed", str(seed),
                            *(["--wide"] if args.wide else [])], check=True)
            metrics = evaluate_scores(cfg, split, np.load(folder / "lightfm_scores.npy"))
            info = json.loads((folder / "lightfm.json").read_text())
        rows.append({"seed": seed, "best": info["best"], "tuning_seconds": info["tuning_seconds"],
                     "lightfm_valid_ndcg@10": info["best_valid_ndcg@10"], **metrics})
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()
                          if k in ("seed", "best", "tuning_seconds", "lightfm_valid_ndcg@10", "valid/ndcg@10",
                                   *REPORTED)}), flush=True)
    print(f"\nLightFM on {' '.join(args.overrides)}, seeds {args.seeds}:")
    for name in ("valid/ndcg@10", *REPORTED):
        values = np.array([row[name] for row in rows if name in row])
        if len(values):
            print(f"  {name:<20} {values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0:.4f}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
