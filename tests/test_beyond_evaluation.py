"""Beyond-accuracy metrics in the evaluator and in a run; fairness gaps and their tests."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy import stats

from recbench.errors import RecbenchError
from recbench.evaluation.beyond_metrics import BeyondAccuracy
from recbench.evaluation.evaluator import RankingAccumulator
from recbench.evaluation.fairness import activity_grouping, feature_grouping, group_gaps
from recbench.experiment import train
from tests.helpers import compose_config


def feature_matrix(values, fields, labels=None):
    """A FeatureMatrix as the features contract describes it (values, mask, fields)."""
    values = np.asarray(values, dtype=np.float32)
    infos = {name: SimpleNamespace(kind=kind, columns=columns, coverage=1.0, labels=(labels or {}).get(name))
             for name, (kind, columns) in fields.items()}
    return SimpleNamespace(values=values, mask=values.any(axis=1), fields=infos)


def test_accumulator_adds_beyond_metrics_from_the_same_lists():
    # 3 users, 4 items; training popularity 3, 2, 1, 0 (user 2 has no training history).
    train_matrix = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
    genres = feature_matrix([[1, 0], [0, 1], [1, 1], [0, 0]], {"genres": ("categorical", slice(0, 2))})
    beyond = BeyondAccuracy("all", train_matrix, item_features=genres)
    assert beyond.names == ["f1", "novelty", "arp", "aplt", "pop_lift", "ild", "calibration",
                            "gini", "entropy", "exposure"]
    scores = torch.tensor([[0.0, 0, 0, 1], [0, 0, 2, 1], [0, 3, 2, 1]])
    history = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]])
    target = torch.tensor([[0.0, 0, 0, 1], [0, 0, 0, 1], [0, 1, 0, 0]])
    accumulator = RankingAccumulator([1, 2], 4, beyond=beyond)
    accumulator.add(torch.arange(3), scores, history, target)
    result = accumulator.gather()
    # Lists at K=2 (known items masked): user 0 [3, 0], user 1 [2, 3], user 2 [1, 2].
    assert result.per_user["arp@2"].tolist() == pytest.approx([1.5, 0.5, 1.5])
    assert result.per_user["aplt@2"].tolist() == pytest.approx([0.5, 1.0, 1.0])  # head = item 0 (50%)
    assert result.per_user["f1@1"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    # user 1 at K=2: precision 1/2, recall 1 -> f1 2/3
    assert result.per_user["f1@2"][1] == pytest.approx(2 / 3)
    # exposure at K=2: item 0:1, 1:1, 2:2, 3:2 -> sorted 1,1,2,2 -> gini = (-3 -1 +2*1 +3*2)/(4*6)
    assert result.coverage["gini@2"] == pytest.approx(4 / 24)
    assert result.coverage["head_exposure@2"] == pytest.approx(1 / 6)
    assert result.coverage["head_interactions"] == pytest.approx(0.5)
    # user 0's list [3, 0] has item 3 (no genres) -> ILD 1; user 2's [1, 2]: cos = 1/sqrt(2)
    assert result.per_user["ild@2"][[0, 2]].tolist() == pytest.approx([1.0, 1 - 2 ** -0.5])
    summary = result.summary("test")
    assert summary["test/novelty@1"] == pytest.approx(float(np.mean(-np.log2([1 / 3, 1 / 3, 2 / 3]))))


def test_fairness_gaps_match_scipy():
    rng = np.random.default_rng(0)
    values = rng.random(60)
    codes = np.repeat([0, 1, 2], 20)
    values[codes == 2] += 0.5
    values[3] = np.nan  # undefined for one user: left out
    codes[4] = -1  # no group
    report = group_gaps({"ndcg@10": values}, codes, ["a", "b", "c"])["ndcg@10"]
    keep = np.isfinite(values) & (codes >= 0)
    means = [values[keep & (codes == g)].mean() for g in range(3)]
    assert [report["groups"][name]["mean"] for name in "abc"] == pytest.approx(means)
    assert report["groups"]["a"]["n"] == 18
    best, worst = int(np.argmax(means)), int(np.argmin(means))
    assert report["best"] == "abc"[best] and report["worst"] == "abc"[worst]
    assert report["gap"] == pytest.approx(means[best] - means[worst])
    welch = stats.ttest_ind(values[keep & (codes == best)], values[keep & (codes == worst)], equal_var=False)
    assert report["p_welch"] == pytest.approx(welch.pvalue)
    kruskal = stats.kruskal(*[values[keep & (codes == g)] for g in range(3)])
    assert report["p_kruskal"] == pytest.approx(kruskal.pvalue) and report["p_kruskal"] < 1e-3


def test_groupings_from_activity_and_user_features():
    grouping = activity_grouping(np.array([0, 1, 2, 3, 4, 5, 6]), 3)
    assert grouping.codes.tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert grouping.labels == ["1-2", "3-4", "5-6"]
    gender = feature_grouping("gender", np.array([[1, 0], [0, 1], [0, 0]]), np.array([True, True, False]),
                              "categorical", ["F", "M"])
    assert gender.codes.tolist() == [0, 1, -1] and gender.labels == ["F", "M"]
    age = feature_grouping("age", np.array([[-1.0], [0.0], [1.0], [2.0]]), np.ones(4, bool), "numeric", n_bins=2)
    assert age.codes.tolist() == [0, 0, 1, 1]


def test_missing_features_are_named():
    train_matrix = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(RecbenchError, match=r"\['ild'\] need item features.*'toy' has none"):
        BeyondAccuracy(["ild"], train_matrix, dataset="toy")
    with pytest.raises(RecbenchError, match="'gender' needs user features.*'toy' has none"):
        BeyondAccuracy(["f1"], train_matrix, user_groups=["gender"], dataset="toy")
    users = feature_matrix([[1, 0], [0, 1], [1, 0]], {"gender": ("categorical", slice(0, 2))})
    with pytest.raises(RecbenchError, match="no feature 'age'.*\\['gender'\\]"):
        BeyondAccuracy(["f1"], train_matrix, user_features=users, user_groups=["age"], dataset="toy")
    with pytest.raises(RecbenchError, match="unknown metric"):
        BeyondAccuracy(["novelty", "serendipity"], train_matrix)


def test_run_records_beyond_metrics_fairness_and_checkpoint(tmp_path):
    cfg = compose_config(["model=pop", "evaluation.user_groups=[activity]"], tmp_path)
    record = train(cfg)
    metrics = record.metrics
    for name in ("f1@10", "novelty@10", "arp@10", "aplt@10", "pop_lift@10", "gini@10", "entropy@10",
                 "head_exposure@10"):
        assert f"test/{name}" in metrics
    # Pop lists the same items to everyone: the most concentrated exposure among all lists.
    assert metrics["test/pop_lift@10"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    activity = saved["fairness"]["test"]["activity"]["ndcg@10"]
    per_user = pd.read_parquet(tmp_path / "per_user_test.parquet")
    assert per_user["novelty@10"].mean() == pytest.approx(metrics["test/novelty@10"])
    assert sum(g["n"] for g in activity["groups"].values()) == len(per_user)
    assert 0 <= activity["p_kruskal"] <= 1
    state = torch.load(tmp_path / "checkpoints" / "model.pt", weights_only=True)
    assert "popularity" in state or state  # pop's fitted buffers


def test_bad_beyond_config_fails_before_reading_data(tmp_path):
    cfg = compose_config(["model=pop", "evaluation.beyond=[novelty,serendipity]", "dataset=ml-100k",
                          "dataset.path=/nonexistent", "dataset.download=false"], tmp_path, tiny=False)
    with pytest.raises(RecbenchError, match="serendipity"):
        train(cfg)


@pytest.mark.parametrize("override, message", [
    ("evaluation.beyond=[novelty,ild]",
     r"\['ild'\] need item features \(e.g. genres\), but dataset 'synthetic' declares none"),
    ("evaluation.user_groups=[activity,gender]",
     r"\['gender'\] need user features that dataset 'synthetic' does not declare"),
])
def test_metrics_and_groups_that_need_missing_features_are_named(tmp_path, override, message):
    cfg = compose_config(["model=pop", override], tmp_path)
    with pytest.raises(RecbenchError, match=message):
        train(cfg)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.skipif(not __import__("os").environ.get("RECBENCH_DATA_DIR"), reason="RECBENCH_DATA_DIR is not set")
def test_ml100k_genres_and_groups_come_from_the_feature_files(tmp_path):
    from recbench.data.loading import load_dataset
    from recbench.evaluation.beyond_features import load_beyond_features

    cfg = compose_config(["dataset=ml-100k", "evaluation.beyond=all", "evaluation.user_groups=[gender,age,activity]"],
                         tmp_path, tiny=False)
    data = load_dataset(cfg.dataset, cache_dir=cfg.paths.cache_dir)
    items, users = load_beyond_features(cfg.evaluation, cfg.dataset, data, cfg.paths.cache_dir)
    assert list(items.fields) == ["genres"] and sorted(users.fields) == ["age", "gender"]
    genres = items.fields["genres"]
    toy_story = int(np.flatnonzero(data.item_ids == 1)[0])
    assert sorted(np.array(genres.labels)[items.values[toy_story, genres.columns] > 0]) == [
        "Animation", "Children's", "Comedy"]  # u.item: 1|Toy Story (1995)|...|0|0|0|1|1|1|0...
    train_matrix = data.matrix()
    beyond = BeyondAccuracy("all", train_matrix, items, users, "genres", ["gender", "age", "activity"], 3, "ml-100k")
    gender = beyond.groupings[0]
    assert gender.labels == ["F", "M"]
    assert np.bincount(gender.codes).tolist() == [273, 670]  # ML-100K's 273 women and 670 men
    assert "ild" in beyond.names and "calibration" in beyond.names
