"""The LightFM half of ``scripts/compare_lightfm.py``; runs in LightFM's own virtual environment.

It imports only numpy, scipy and lightfm (never recbench or torch). It reads a split exported by
``compare_lightfm.py export``, tunes LightFM on the validation targets (a small grid; epochs chosen
by validation NDCG@10 with the same candidate set as recbench), and writes the chosen model's
scores of every item for the evaluated users. recbench then computes the reported metrics from
these scores with its own evaluator.

    <lightfm-venv>/bin/python scripts/lightfm_side.py EXPORT_DIR [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

# The default budget: 2 settings (as for each recbench model in scripts/bench_hybrid.py runs),
# epochs chosen on validation. --grid widens it.
GRID = {
    "loss": ["warp"],
    "no_components": [64],
    "identity": [True, False],  # an id feature for each warm item (cold items never have one)
    "learning_rate": [0.05],
    "item_alpha": [1e-6],
}
WIDE_GRID = {**GRID, "loss": ["warp", "bpr"], "no_components": [32, 64]}
EPOCH_CHECKS = (5, 10, 20, 30, 50)  # validation NDCG@10 is measured after these epochs


def load(folder: Path) -> dict:
    data = {name: sp.load_npz(folder / f"{name}.npz").tocsr()
            for name in ("train", "valid_history", "valid_target", "test_history", "test_target")}
    for name in ("item_features", "user_features"):
        data[name] = sp.load_npz(folder / f"{name}.npz").tocsr() if (folder / f"{name}.npz").exists() else None
    for stage in ("valid", "test"):
        path = folder / f"candidates_{stage}.npy"
        data[f"candidates_{stage}"] = np.load(path) if path.exists() else None
    return data


def feature_matrix(content: sp.csr_matrix | None, warm: np.ndarray, identity: bool) -> sp.csr_matrix | None:
    """LightFM's feature matrix: ``[identity of warm ids | content]``, rows scaled to unit L1 norm.

    LightFM's ``Dataset.build_*_features`` normalises rows the same way by default.
    """
    n = len(warm)
    blocks = []
    if identity or content is None:
        blocks.append(sp.diags(warm.astype(np.float32), format="csr") if content is not None
                      else sp.identity(n, dtype=np.float32, format="csr"))
    if content is not None:
        blocks.append(content)
    matrix = sp.hstack(blocks, format="csr").astype(np.float32)
    norms = np.asarray(abs(matrix).sum(axis=1)).ravel()
    return sp.diags(1.0 / np.maximum(norms, 1e-12)).dot(matrix).tocsr().astype(np.float32)


def all_scores(model: LightFM, users: np.ndarray, item_features, user_features) -> np.ndarray:
    """Scores ``[len(users), n_items]`` from LightFM's representations (same as ``predict``)."""
    item_bias, item_vectors = model.get_item_representations(item_features)
    user_bias, user_vectors = model.get_user_representations(user_features)
    return user_vectors[users] @ item_vectors.T + user_bias[users, None] + item_bias[None, :]


def ndcg_at_10(scores: np.ndarray, users: np.ndarray, history: sp.csr_matrix, target: sp.csr_matrix,
               candidates: np.ndarray | None) -> float:
    """Mean NDCG@10 with recbench's definitions: known items masked, ranking among ``candidates``."""
    scores = scores.copy()
    scores[history[users].toarray() > 0] = -np.inf
    if candidates is not None:
        scores[:, ~candidates] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    relevant = target[users].toarray() > 0
    hits = np.take_along_axis(relevant, top, axis=1)
    discounts = 1 / np.log2(np.arange(2, 12))
    ideal = np.cumsum(discounts)[np.minimum(relevant.sum(1), 10) - 1]
    return float(((hits * discounts).sum(1) / ideal).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wide", action="store_true", help="the wider grid (loss x no_components x identity)")
    args = parser.parse_args()
    grid = WIDE_GRID if args.wide else GRID
    data = load(args.folder)
    train = data["train"]
    n_users, n_items = train.shape
    item_warm = np.bincount(train.indices, minlength=n_items) > 0
    user_warm = np.diff(train.indptr) > 0
    valid_users = np.flatnonzero(np.diff(data["valid_target"].indptr) > 0)
    interactions = train.tocoo()

    best, best_scores, trials = None, None, []
    all_users = np.arange(n_users)
    start = time.perf_counter()
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        item_features = feature_matrix(data["item_features"], item_warm, setting["identity"])
        user_features = feature_matrix(data["user_features"], user_warm, True)
        model = LightFM(no_components=setting["no_components"], loss=setting["loss"],
                        learning_rate=setting["learning_rate"], item_alpha=setting["item_alpha"],
                        user_alpha=setting["item_alpha"], random_state=args.seed)
        done = 0
        for epochs in EPOCH_CHECKS:
            model.fit_partial(interactions, user_features=user_features, item_features=item_features,
                              epochs=epochs - done, num_threads=args.threads)
            done = epochs
            scores = all_scores(model, all_users, item_features, user_features)  # [n_users, n_items]
            ndcg = ndcg_at_10(scores[valid_users], valid_users, data["valid_history"], data["valid_target"],
                              data["candidates_valid"])
            trials.append({**setting, "epochs": epochs, "valid_ndcg@10": ndcg})
            if best is None or ndcg > best[0]:
                # The chosen model is the one validated: its scores are kept, not refitted.
                best, best_scores = (ndcg, {**setting, "epochs": epochs}), scores
    tuning_seconds = time.perf_counter() - start
    np.save(args.folder / "lightfm_scores.npy", best_scores.astype(np.float32))
    (args.folder / "lightfm.json").write_text(json.dumps({
        "best": best[1], "best_valid_ndcg@10": best[0], "trials": trials, "grid": grid,
        "tuning_seconds": tuning_seconds,
    }, indent=1))
    print(json.dumps({"best": best[1], "valid_ndcg@10": round(best[0], 4), "tuning_seconds": round(tuning_seconds, 1)}))


if __name__ == "__main__":
    main()
