"""Cold-start tables of issue 10: item and user cold start on MovieLens with side information.

    python scripts/bench_cold_start.py                         # ML-100K, cold items and cold users, seeds 1-3
    python scripts/bench_cold_start.py --dataset ml-latest-small --protocols cold_items
    python scripts/bench_cold_start.py --encoding-only         # minilm encoding seconds only

What it measures (every model is scored by recbench's Evaluator, exactly as in a run):

* ``cold_items`` (20% of items held out, half for validation, half for test): NDCG@10 and
  Recall@20 of the test users ranking the cold test items (``test/...``, DropoutNet's protocol)
  and ranking all items (``test/all/...``), for Pop and ContentKNN on genres, on TF-IDF text and on
  MiniLM text. ContentKNN is tuned per split seed on ``valid/ndcg@10`` over the same grid for
  every feature set (``GRID``); the table gives mean and standard deviation over split seeds.
* ``cold_users`` (20% of users held out, features only, then their first 5 interactions): Pop,
  a demographic baseline (``DemographicPop``: the items popular among the 50 warm users most
  similar in age, gender and occupation) and, with fold-in, ContentKNN on genres and ItemKNN.
* Seconds: MiniLM encoding of every item text, first run (model load included; with a fresh
  ``--cache-dir``) and cached, wall and CPU; ContentKNN fit and evaluation seconds. On a shared
  machine wall seconds are contended: repeat and take medians.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import tempfile
import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from plugins.contentknn import ContentKNN
from plugins.itemknn import ItemKNN
from plugins.pop import Pop
from recbench.data.catalog import catalog_entry
from recbench.data.cold_start import ColdItems, ColdUsers
from recbench.data.encoders import MiniLMEncoder, TfidfEncoder, encode_cached
from recbench.data.feature_files import read_fields
from recbench.data.feature_loading import declared_features, load_features
from recbench.data.features import match_ids
from recbench.data.loading import dataset_folder, load_dataset
from recbench.evaluation.evaluator import Evaluator
from recbench.plugin import FeatureTensors

GRID = {"k": [20, 100, 400], "shrink": [0.0, 10.0]}  # ContentKNN's tuning budget, the same for every feature set
KS = [10, 20]
DEVICE = torch.device("cpu")


class DemographicPop(nn.Module):
    """The items popular among the ``k`` warm users whose features are most similar (cosine).

    ``score(u, i) = sum over the k nearest warm users v of cos(f_u, f_v) * train[v, i]``: a
    user-kNN on demographics, the natural content baseline for a user without history.
    """

    def __init__(self, n_users: int, n_items: int, user_features: FeatureTensors, k: int = 50):
        super().__init__()
        self.n_users, self.n_items, self.k = n_users, n_items, k
        values = user_features.values.float()
        self.register_buffer("features", values / values.norm(dim=1, keepdim=True).clamp(min=1e-12))
        self.train_matrix: Tensor | None = None

    def fit(self, train: sp.csr_matrix) -> None:
        self.train_matrix = torch.from_numpy(train.toarray())  # [n_users, n_items]; ML-100K is small
        self.warm = torch.from_numpy(np.diff(train.indptr) > 0)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        sims = self.features[users] @ self.features.T  # [B, n_users]
        sims = sims.masked_fill(~self.warm, float("-inf"))
        top = torch.topk(sims, self.k, dim=1)
        weights = torch.zeros_like(sims).scatter_(1, top.indices, top.values.clamp(min=0))
        return weights @ self.train_matrix  # [B, n_items]


def tensors(matrix) -> FeatureTensors:
    return FeatureTensors(torch.from_numpy(matrix.values), torch.from_numpy(matrix.mask))


def fit_and_evaluate(model, split, evaluator) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(split.train)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    valid = evaluator.evaluate(model, *split.stage("valid"), "valid", DEVICE).summary("valid")
    start, cpu = time.perf_counter(), time.process_time()
    test = evaluator.evaluate(model, *split.stage("test"), "test", DEVICE).summary("test")
    return {**valid, **test, "fit_seconds": fit_seconds, "fit_cpu_seconds": fit_cpu,
            "eval_seconds": time.perf_counter() - start, "eval_cpu_seconds": time.process_time() - cpu}


def tuned(make, split, evaluator) -> dict:
    """The grid point with the best valid/ndcg@10, with its test metrics."""
    best = None
    for k, shrink in itertools.product(GRID["k"], GRID["shrink"]):
        result = fit_and_evaluate(make(k, shrink), split, evaluator)
        result["params"] = {"k": k, "shrink": shrink}
        if best is None or result["valid/ndcg@10"] > best["valid/ndcg@10"]:
            best = result
    return best


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.4f}"


def print_table(title: str, rows: dict[str, list[dict]], keys: list[str]) -> None:
    print(f"\n{title}")
    print(f"| model | {' | '.join(keys)} |")
    print(f"|---|{'---|' * len(keys)}")
    for name, results in rows.items():
        print(f"| {name} | {' | '.join(mean_std([r[key] for r in results]) for key in keys)} |")


def load(name: str, cache_dir: str):
    """The dataset with item (and user) features: text encoded by TF-IDF and, separately, by MiniLM."""
    entry = catalog_entry(name)
    base = load_dataset(entry)
    folder = dataset_folder(entry)
    with_tfidf, _ = load_features(entry, base, folder, TfidfEncoder(), cache_dir)
    with_minilm, _ = load_features(entry, base, folder, MiniLMEncoder(show_progress=False), cache_dir, ("item",))
    return with_tfidf, with_minilm.item_features


def cold_items(name: str, seeds: list[int], cache_dir: str) -> None:
    data, minilm_items = load(name, cache_dir)
    items = data.item_features
    feature_sets = {"genres": items.select(["genres"]), "text (tfidf)": items.select(["text"]),
                    "text (minilm)": minilm_items.select(["text"])}
    rows: dict[str, list[dict]] = {"pop": []}
    rows.update({f"contentknn, {label}": [] for label in feature_sets})
    for seed in seeds:
        split = ColdItems()(data, seed)
        evaluator = Evaluator(KS, 256).for_split(split)
        rows["pop"].append(fit_and_evaluate(Pop(data.n_users, data.n_items), split, evaluator))
        for label, matrix in feature_sets.items():
            result = tuned(lambda k, shrink, m=matrix: ContentKNN(data.n_users, data.n_items, tensors(m), k, shrink),
                           split, evaluator)
            rows[f"contentknn, {label}"].append(result)
            print(f"seed {seed} {label}: chose {result['params']}, valid ndcg@10 {result['valid/ndcg@10']:.4f}, "
                  f"test ndcg@10 {result['test/ndcg@10']:.4f}; fit {result['fit_seconds']:.2f} s, "
                  f"evaluation {result['eval_seconds']:.2f} s", flush=True)
    n_cold = int(ColdItems()(data, seeds[0]).candidate_items("test").sum())
    print_table(f"{name} cold_items, seeds {seeds}: test users rank the {n_cold} cold test items (test/...) "
                f"or all {data.n_items} items (test/all/...)", rows,
                ["test/ndcg@10", "test/recall@20", "test/all/ndcg@10", "test/all/recall@20"])
    print_table("ContentKNN seconds (contended machine)", {k: v for k, v in rows.items() if k != "pop"},
                ["fit_seconds", "fit_cpu_seconds", "eval_seconds", "eval_cpu_seconds"])


def cold_users(name: str, seeds: list[int], cache_dir: str) -> None:
    entry = catalog_entry(name)
    data, _ = load_features(entry, load_dataset(entry), dataset_folder(entry), TfidfEncoder(), cache_dir)
    if data.user_features is None:
        print(f"\n{name} has no user features: cold_users skipped")
        return
    for fold_in in (0, 5):
        rows: dict[str, list[dict]] = {"pop": [], "demographic pop (k=50)": []}
        if fold_in:
            rows.update({"contentknn, genres (k=100)": [], "itemknn (k=100)": []})
        for seed in seeds:
            split = ColdUsers(fold_in=fold_in)(data, seed)
            evaluator = Evaluator(KS, 256).for_split(split)
            rows["pop"].append(fit_and_evaluate(Pop(data.n_users, data.n_items), split, evaluator))
            rows["demographic pop (k=50)"].append(fit_and_evaluate(
                DemographicPop(data.n_users, data.n_items, tensors(data.user_features)), split, evaluator))
            if fold_in:
                genres = tensors(data.item_features.select(["genres"]))
                rows["contentknn, genres (k=100)"].append(fit_and_evaluate(
                    ContentKNN(data.n_users, data.n_items, genres, 100), split, evaluator))
                rows["itemknn (k=100)"].append(fit_and_evaluate(
                    ItemKNN(data.n_users, data.n_items, 100), split, evaluator))
        print_table(f"{name} cold_users, fold_in={fold_in}, seeds {seeds}: held-out users rank all items", rows,
                    ["test/ndcg@10", "test/recall@20"])


def encoding_seconds(name: str, cache_dir: str) -> None:
    """MiniLM seconds for every item text of ``name``: first run (model load included) and cached.

    Wall seconds and the process's CPU seconds (all threads) are both printed: on a shared
    machine the wall time mostly measures the other processes.
    """
    entry = catalog_entry(name)
    data = load_dataset(entry)
    specs = declared_features(entry)["item"]
    text = next(f for f in read_fields(specs, dataset_folder(entry), "item") if f.kind == "text")
    texts = [str(t) for t in text.values[match_ids(text.ids, data.item_ids, text.source) >= 0]]
    for attempt in ("first run", "cached"):
        wall, cpu = time.perf_counter(), time.process_time()
        _, n = encode_cached(MiniLMEncoder(show_progress=False), texts, cache_dir)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{name}: minilm, {len(texts)} item texts, {attempt}: {n} encoded, {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU ({torch.get_num_threads()} threads)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--protocols", nargs="+", default=["cold_items", "cold_users"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--cache-dir", default=None, help="feature and embedding cache (default: a fresh temp dir)")
    parser.add_argument("--encoding-only", action="store_true", help="only time the minilm encoding")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = args.cache_dir or scratch
        encoding_seconds(args.dataset, cache_dir)
        if args.encoding_only:
            return
        if "cold_items" in args.protocols:
            cold_items(args.dataset, args.seeds, cache_dir)
        if "cold_users" in args.protocols:
            cold_users(args.dataset, args.seeds, cache_dir)


if __name__ == "__main__":
    main()
