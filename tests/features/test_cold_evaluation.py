"""Cold-start evaluation end to end: candidate sets, the all-items figure and segment metrics,
checked against a ranking recomputed with numpy from the run's own split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf, open_dict

from recbench.data.cold_start import ColdItems
from recbench.data.interactions import Interactions
from recbench.evaluation.segments import item_segments
from recbench.experiment import train
from tests.helpers import compose_config


def ndcg(ranking: np.ndarray, relevant: set, k: int) -> float:
    gains = [1 / np.log2(r + 2) for r, item in enumerate(ranking[:k]) if item in relevant]
    ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(relevant))))
    return sum(gains) / ideal


def pop_rankings(train: np.ndarray, history: np.ndarray, candidates: np.ndarray) -> dict[int, np.ndarray]:
    """Each user's ranking by training popularity (ties: lower index), known items and non-candidates out."""
    counts = train.sum(axis=0)
    order = np.lexsort((np.arange(len(counts)), -counts))  # most popular first, then by index
    return {u: np.array([i for i in order if candidates[i] and not history[u, i]]) for u in range(len(history))}


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(1)
    popularity = rng.zipf(1.6, 60).clip(max=40) / 40  # a skewed catalogue: head and tail
    rows = [(u, i) for u in range(50) for i in range(60) if rng.random() < 0.6 * popularity[i] + 0.02]
    pd.DataFrame(rows, columns=["user", "item"]).to_csv(folder / "ratings.csv", index=False)
    pd.DataFrame({"item": range(60), "kind": rng.integers(0, 3, 60)}).to_csv(folder / "kind.csv", index=False)
    cfg = compose_config(["dataset=custom", "dataset.source.file=ratings.csv", f"dataset.path={folder}",
                          "dataset.download=false", "model=pop", "split=cold_items", "split.cold_items=0.4",
                          "evaluation.ks=[5]", "evaluation.monitor=valid/ndcg@5"], tmp_path / "out", tiny=False)
    with open_dict(cfg):
        cfg.dataset.features = OmegaConf.create({"item": {"kind": {"kind": "categorical", "file": "kind.csv"}}})
    frame = pd.read_csv(folder / "ratings.csv")
    return cfg, frame


def test_cold_items_rank_among_the_stage_cold_items_and_among_all(run):
    cfg, frame = run
    record = train(cfg)
    split = ColdItems(cold_items=0.4)(Interactions.from_frame(frame), seed=cfg.seed)
    history, target = (m.toarray() for m in split.stage("test"))
    cold = split.candidate_items("test")
    users = np.flatnonzero(target.sum(axis=1))
    among_cold = pop_rankings(split.train.toarray(), history, cold)
    among_all = pop_rankings(split.train.toarray(), history, np.ones(split.n_items, bool))
    relevant = {u: set(np.flatnonzero(target[u])) for u in users}
    assert record.metrics["test/ndcg@5"] == pytest.approx(np.mean([ndcg(among_cold[u], relevant[u], 5) for u in users]))
    assert record.metrics["test/all/ndcg@5"] == pytest.approx(
        np.mean([ndcg(among_all[u], relevant[u], 5) for u in users]))
    assert record.metrics["test/all/ndcg@5"] < record.metrics["test/ndcg@5"]  # popular warm items crowd them out
    assert "cold_items" in record.evaluation["candidates"]
    assert record.metrics["test/cold/ndcg@5"] == pytest.approx(record.metrics["test/ndcg@5"])  # every target is cold
    assert "test/warm/ndcg@5" not in record.metrics  # no user has a warm target


def test_segment_metrics_of_a_warm_run(run):
    cfg, frame = run
    with open_dict(cfg):
        cfg.split = compose_config(["split=random"], cfg.paths.output_dir, tiny=False).split
    record = train(cfg)
    from recbench.data.split import RandomSplit
    split = RandomSplit()(Interactions.from_frame(frame), seed=cfg.seed)
    history, target = (m.toarray() for m in split.stage("test"))
    users = np.flatnonzero(target.sum(axis=1))
    rankings = pop_rankings(split.train.toarray(), history, np.ones(split.n_items, bool))
    segments = item_segments(split.item_train_counts(), 0.2)
    for name in ("head", "tail", "warm"):
        members = set(np.flatnonzero(segments[name]))
        scored = [ndcg(rankings[u], set(np.flatnonzero(target[u])) & members, 5) for u in users
                  if set(np.flatnonzero(target[u])) & members]
        assert record.metrics[f"test/{name}/ndcg@5"] == pytest.approx(np.mean(scored)), name
    assert record.evaluation["candidates"].startswith("all")
