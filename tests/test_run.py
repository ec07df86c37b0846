"""The run path end to end on tiny data: both plugin paths, results, reproducibility."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from recbench.config import build
from recbench.data.loading import load_dataset
from recbench.evaluation.evaluator import Evaluator
from recbench.experiment import train
from tests.helpers import CONF_DIR, compose_config


def run(tmp_path, *overrides, tiny=True):
    return train(compose_config(list(overrides), tmp_path, tiny=tiny))


def test_fit_path_records_everything(tmp_path):
    results = run(tmp_path, "model=pop")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["metrics"] == pytest.approx(results.metrics)
    assert saved["model"] == {"name": "pop", "target": "plugins.pop.Pop", "n_params": 0}
    assert saved["dataset"]["name"] == "synthetic" and len(saved["dataset"]["fingerprint"]) == 16
    assert saved["dataset"]["stats"]["n_users"] == 120
    assert saved["split"]["config"]["ratios"] == [0.8, 0.1, 0.1]
    assert saved["seed"] == 42 and saved["config"]["model"]["_target_"] == "plugins.pop.Pop"
    assert saved["versions"]["torch"] and saved["versions"]["pytorch-lightning"]
    assert "git_revision" in saved
    for stage in ("valid", "test"):
        for k in (10, 20):
            for metric in ("ndcg", "recall", "precision", "hitrate", "mrr", "map", "coverage"):
                assert 0.0 <= saved["metrics"][f"{stage}/{metric}@{k}"] <= 1.0
    per_user = pd.read_parquet(tmp_path / "per_user_test.parquet")
    assert per_user["ndcg@10"].mean() == pytest.approx(saved["metrics"]["test/ndcg@10"])


def test_gradient_path_trains_restores_best_and_tests(tmp_path):
    results = run(tmp_path, "model=mlp", "trainer.max_epochs=4")
    assert results.timing.epochs == 4
    assert 0 <= results.timing.best_epoch < 4
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert results.n_params > 0
    assert results.metrics["test/ndcg@10"] > 0


def test_same_seed_gives_identical_metrics(tmp_path):
    first = run(tmp_path / "a", "model=mlp", "seed=7")
    second = run(tmp_path / "b", "model=mlp", "seed=7")
    other = run(tmp_path / "c", "model=mlp", "seed=8")
    assert first.metrics == second.metrics
    assert first.metrics != other.metrics


def recompute(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int, n_items: int) -> dict:
    """Metrics from the saved files, written independently of recbench's tensor code."""
    relevant = truth.groupby("user_id")["item_id"].apply(set).to_dict()
    rows = {name: [] for name in ("ndcg", "recall", "precision", "hitrate", "mrr", "map")}
    for user, group in recommendations[recommendations["rank"] <= k].groupby("user_id"):
        items = group.sort_values("rank")["item_id"].tolist()
        wanted = relevant[user]
        hits = [item in wanted for item in items]
        n_ideal = min(k, len(wanted))
        rows["ndcg"].append(sum(h / np.log2(i + 2) for i, h in enumerate(hits))
                            / sum(1 / np.log2(i + 2) for i in range(n_ideal)))
        rows["recall"].append(sum(hits) / n_ideal)
        rows["precision"].append(sum(hits) / k)
        rows["hitrate"].append(float(any(hits)))
        rows["mrr"].append(next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0))
        rows["map"].append(sum(sum(hits[:i + 1]) / (i + 1) for i, h in enumerate(hits) if h) / n_ideal)
    out = {f"test/{name}@{k}": float(np.mean(values)) for name, values in rows.items()}
    top = recommendations[recommendations["rank"] <= k]
    out[f"test/coverage@{k}"] = top["item_id"].nunique() / n_items
    return out


def test_metrics_recomputed_from_saved_recommendations(tmp_path):
    results = run(tmp_path, "model=mlp", "evaluation.save_recommendations=true")
    recommendations = pd.read_parquet(tmp_path / "recommendations.parquet")
    truth = pd.read_parquet(tmp_path / "test.parquet")
    assert set(recommendations.columns) == {"user_id", "item_id", "rank", "score"}
    assert recommendations["user_id"].str.startswith("u").all()  # the dataset's original ids
    assert set(recommendations["user_id"]) == set(truth["user_id"])
    n_items = results.stats["n_items"]
    for k in (10, 20):
        expected = recompute(recommendations, truth, k, n_items)
        for name, value in expected.items():
            assert results.metrics[name] == pytest.approx(value, abs=1e-6), name


class FitRecorder(pl.Callback):
    """Records, for each ``trainer.fit``, the interactions trained on and the epochs run."""

    def __init__(self):
        self.fits: list[dict] = []

    def on_train_end(self, trainer, pl_module):
        self.fits.append({"interactions": trainer.datamodule.train_matrix.nnz, "epochs": trainer.current_epoch,
                          "validated": trainer.limit_val_batches != 0})


def test_refit_trains_again_on_train_and_valid_for_the_chosen_epochs(tmp_path):
    recorder = FitRecorder()
    cfg = compose_config(["model=mlp", "split=ratio_80_20", "evaluation.refit=true", "trainer.max_epochs=4",
                          "evaluation.patience=1"], tmp_path)
    results = train(cfg, extra_callbacks=[recorder])
    counts = results.split_counts
    assert counts["valid"] > 0
    first, refit = recorder.fits
    assert first == {"interactions": counts["train"], "epochs": results.timing.epochs, "validated": True}
    chosen = results.timing.best_epoch + 1
    assert results.timing.refit_epochs == chosen
    assert refit == {"interactions": counts["train"] + counts["valid"], "epochs": chosen, "validated": False}


def test_fit_model_refit_sees_the_validation_targets(tmp_path):
    # Pop counts its training interactions: after the refit they include the validation targets.
    cfg = compose_config(["model=pop", "evaluation.refit=true"], tmp_path)
    results = train(cfg)
    assert results.timing.refit_epochs is None
    data = load_dataset(cfg.dataset)
    split = build(cfg.split, "split")(data, seed=cfg.seed)
    model = build(cfg.model, "model", n_users=data.n_users, n_items=data.n_items)
    model.fit(split.merged_for_refit().train)
    expected = Evaluator([10, 20], 256).evaluate(model, *split.stage("test"), "test", torch.device("cpu"))
    assert results.metrics["test/ndcg@10"] == pytest.approx(expected.summary("test")["test/ndcg@10"])
    model.fit(split.train)
    without_refit = Evaluator([10, 20], 256).evaluate(model, *split.stage("test"), "test", torch.device("cpu"))
    assert without_refit.summary("test")["test/ndcg@10"] != results.metrics["test/ndcg@10"]


@pytest.mark.slow
def test_quick_start_mlp_clearly_beats_popularity_on_default_synthetic(tmp_path):
    # The README's quick start, with the defaults it runs (the helper caps epochs for speed, so
    # the trainer's own default is restored): its point is this gap.
    default_epochs = OmegaConf.load(CONF_DIR / "trainer" / "cpu.yaml").max_epochs
    pop = run(tmp_path / "pop", "model=pop", tiny=False)
    mlp = run(tmp_path / "mlp", f"trainer.max_epochs={default_epochs}", tiny=False)
    assert mlp.metrics["test/ndcg@10"] > pop.metrics["test/ndcg@10"] * 1.3


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RECBENCH_DATA_DIR"), reason="RECBENCH_DATA_DIR is not set")
def test_mlp_beats_popularity_on_ml100k(tmp_path):
    pop = run(tmp_path / "pop", "model=pop", "dataset=ml-100k", tiny=False)
    mlp = run(tmp_path / "mlp", "model=mlp", "dataset=ml-100k", "trainer.max_epochs=30", tiny=False)
    assert pop.stats["n_interactions"] == 100_000
    assert mlp.metrics["test/ndcg@10"] > pop.metrics["test/ndcg@10"]


class LossRecorder(pl.Callback):
    """The epoch-mean training loss and the optimizer steps of each epoch."""

    def __init__(self):
        self.losses, self.steps = [], []

    def on_train_epoch_end(self, trainer, pl_module):
        self.losses.append(float(trainer.callback_metrics["train/loss"]))
        self.steps.append(trainer.global_step)


def test_debug_fast_runs_one_batch_of_each_stage(tmp_path):
    recorder = LossRecorder()
    cfg = compose_config(["debug=fast", "model=mlp"], tmp_path)
    assert cfg.trainer.fast_dev_run is True and not cfg.logger
    train(cfg, extra_callbacks=[recorder])
    assert recorder.steps == [1]   # one optimizer step, then validation and test
    per_user = pd.read_parquet(tmp_path / "per_user_test.parquet")
    assert len(per_user) <= cfg.evaluation.batch_size   # one batch of test users


def test_debug_overfit_drives_the_loss_down_on_one_batch(tmp_path):
    recorder = LossRecorder()
    cfg = compose_config(["debug=overfit", "model=mf", "model.optimizer.lr=0.05", "trainer.max_epochs=8",
                          "evaluation.patience=10"], tmp_path)
    train(cfg, extra_callbacks=[recorder])
    assert recorder.steps == list(range(1, 9))   # one batch per epoch
    assert recorder.losses[-1] < 0.5 * recorder.losses[0]
