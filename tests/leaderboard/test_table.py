"""Leaderboards built from real runs: numbers, ranking and significance."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recbench.leaderboard import build_leaderboard, collect_runs
from recbench.leaderboard.table import STD


def stored(folder) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("results.json"))]


def per_user_mean(folder, metric: str) -> pd.Series:
    """Independent of the code under test: per user, the plain mean over the seed folders."""
    files = sorted(folder.rglob("per_user_test.parquet"))
    frames = [pd.read_parquet(p).set_index("user_id")[metric].astype(float) for p in files]
    together = pd.concat(frames, axis=1)
    return together.sum(axis=1) / together.notna().sum(axis=1)


def test_means_and_stds_equal_numpy_on_the_stored_values(runs_root):
    board = build_leaderboard(collect_runs([runs_root / "main"]))
    assert sorted(board.table["model"]) == ["mlp", "pop"]
    for model, folder in (("pop", "pop"), ("mlp", "bad_mlp")):
        results = stored(runs_root / "main" / folder)
        row = board.table[board.table["model"] == model].iloc[0]
        assert row["n_seeds"] == 3 and row["seeds"] == [1, 2, 3]
        for metric in results[0]["metrics"]:
            values = np.array([r["metrics"][metric] for r in results])
            assert row[metric] == pytest.approx(np.mean(values), abs=1e-12), metric
            assert row[metric + STD] == pytest.approx(np.std(values, ddof=1), abs=1e-12), metric
        assert row["train_seconds"] == pytest.approx(np.mean([r["timing"]["train_seconds"] for r in results]))
        assert row["eval_seconds"] == pytest.approx(np.mean([r["timing"]["eval_seconds"] for r in results]))
        assert row["n_params"] == results[0]["model"]["n_params"]
    assert board.table.loc[board.table["model"] == "mlp", "n_params"].item() > 0


@pytest.mark.parametrize("test", ["ttest", "wilcoxon"])
def test_a_planted_worse_model_is_flagged_with_the_p_value_scipy_gives(runs_root, test):
    board = build_leaderboard(collect_runs([runs_root / "main"]), sort="test/ndcg@10", test=test)
    table = board.table
    assert list(table["model"]) == ["pop", "mlp"]            # ranked
    assert list(table["rank"]) == [1, 2]
    bad = table.iloc[1]
    assert bool(bad["significant"]) and bad["p_holm"] < 0.05
    assert not bool(table.iloc[0]["significant"])

    best = per_user_mean(runs_root / "main" / "pop", "ndcg@10")
    other = per_user_mean(runs_root / "main" / "bad_mlp", "ndcg@10")
    users = best.index.intersection(other.index)
    assert bad["n_users"] == len(users) > 50
    b, o = best[users].to_numpy(), other[users].to_numpy()
    # The signed-rank test ranks differences rounded to 1e-12 (float noise must not break ties).
    expected = stats.ttest_rel(b, o).pvalue if test == "ttest" else stats.wilcoxon(np.round(b - o, 12)).pvalue
    assert bad["p_value"] == pytest.approx(expected, rel=1e-9)
    assert bad["p_holm"] == pytest.approx(expected, rel=1e-9)    # one comparison: Holm changes nothing
    assert board.test == test and "alpha=0.05" in board.significance_note


def test_identical_configurations_in_two_folders_are_not_significant(runs_root):
    board = build_leaderboard(collect_runs([runs_root / "main", runs_root / "rerun"]), models=["mlp"],
                              by_source=True)
    table = board.table
    assert len(table) == 2 and all(table["n_seeds"] == 3)
    sources = {label.split(" @ ")[1] for label in table["label"]}
    assert sources == {str(runs_root / "main"), str(runs_root / "rerun")}
    loser = table.iloc[1]
    assert not bool(loser["significant"]) and loser["same_seeds"]
    # Training is deterministic, so the reruns are identical user by user.
    assert loser["p_value"] == 1.0
    assert table.iloc[0]["test/ndcg@10"] == table.iloc[1]["test/ndcg@10"]


def test_without_by_path_the_rerun_joins_its_group(runs_root):
    board = build_leaderboard(collect_runs([runs_root / "main", runs_root / "rerun"]))
    mlp = board.table[board.table["model"] == "mlp"].iloc[0]
    assert len(board.table) == 2 and mlp["n_seeds"] == 6
    assert any("appear more than once" in warning for warning in board.warnings)


def test_the_same_configuration_on_other_seeds_is_not_significant(runs_root):
    board = build_leaderboard(collect_runs([runs_root / "main" / "pop", runs_root / "other_seeds"]),
                              by_source=True)
    assert len(board.table) == 2
    second = board.table.iloc[1]
    assert not bool(second["significant"]) and not second["same_seeds"]
    assert second["p_holm"] > 0.05
    assert "other seeds" in board.significance_note


def test_groups_ignore_noise_but_split_on_hyperparameters(main_runs):
    """Copies of real runs with an edited config: noise keys keep the group, a learning rate splits it."""
    source = main_runs / "bad_mlp" / "seed1"
    for name, edit in (("noise", lambda c: c["trainer"].update(enable_progress_bar=True, devices=2)
                        or c["paths"].update(output_dir="/elsewhere") or c.update(logger=None)),
                       ("faster", lambda c: c["model"]["optimizer"].update(lr=0.01))):
        target = main_runs / "edited" / name
        target.mkdir(parents=True)
        payload = json.loads((source / "results.json").read_text())
        edit(payload["config"])
        payload["seed"] = 7
        (target / "results.json").write_text(json.dumps(payload))
    board = build_leaderboard(collect_runs([main_runs]), test=None)
    mlp = board.table[board.table["model"] == "mlp"].set_index("label")
    assert sorted(mlp.index) == ["mlp [model.optimizer.lr=0.01]", "mlp [model.optimizer.lr=1e-07]"]
    assert mlp.loc["mlp [model.optimizer.lr=1e-07]", "n_seeds"] == 4    # 3 seeds + the noise-only copy
    assert mlp.loc["mlp [model.optimizer.lr=0.01]", "n_seeds"] == 1
    assert math.isnan(mlp.loc["mlp [model.optimizer.lr=0.01]", "test/ndcg@10" + STD])
    assert "no significance test" in board.significance_note


def test_filters_columns_and_cost_sort(runs_root):
    collection = collect_runs([runs_root / "main"])
    only_pop = build_leaderboard(collection, models=["po*"])
    assert list(only_pop.table["model"]) == ["pop"]
    board = build_leaderboard(collection, sort="train_seconds", columns=["test/*@20"])
    accuracy = ["test/precision@20", "test/recall@20", "test/recall_all@20", "test/hitrate@20",
                "test/ndcg@20", "test/mrr@20", "test/map@20"]
    beyond = ["test/f1@20", "test/novelty@20", "test/arp@20", "test/aplt@20", "test/pop_lift@20"]  # the default set
    assert [c for c in board.columns if "/" not in c.removeprefix("test/")] == [
        *accuracy, *beyond, "test/coverage@20", "test/gini@20", "test/entropy@20", "test/head_exposure@20"]
    assert list(board.table["model"]) == ["pop", "mlp"]    # pop trains faster: ascending for costs
    assert board.test is None


def test_blocks_with_one_dataset_name_but_other_data_are_ranked_and_tested_apart(main_runs):
    """Copies of the runs claiming other synthetic data: a second block, its own ranks and tests."""
    for results in list(main_runs.rglob("results.json")):
        target = main_runs.parent / "other_data" / results.parent.relative_to(main_runs)
        target.mkdir(parents=True)
        payload = json.loads(results.read_text())
        payload["config"]["dataset"]["source"]["n_users"] = 500
        (target / "results.json").write_text(json.dumps(payload))
        (target / "per_user_test.parquet").write_bytes((results.parent / "per_user_test.parquet").read_bytes())
    board = build_leaderboard(collect_runs([main_runs, main_runs.parent / "other_data"]))
    table = board.table
    assert list(table["rank"]) == [1, 2, 1, 2]
    assert list(table["significant"]) == [False, True, False, True]
    assert table["p_holm"].iloc[1] == table["p_holm"].iloc[3]          # one comparison per block
    assert sorted(table["label"]) == ["mlp [dataset.source.n_users=120]", "mlp [dataset.source.n_users=500]",
                                      "pop [dataset.source.n_users=120]", "pop [dataset.source.n_users=500]"]
