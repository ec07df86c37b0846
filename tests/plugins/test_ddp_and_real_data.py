"""Slow checks: DDP over 2 CPU processes tests every user once; models beat popularity on ML-100K."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from recbench.config import build
from recbench.data.loading import load_dataset
from recbench.evaluation.evaluator import Evaluator
from recbench.experiment import train
from tests.helpers import TINY_DATA, compose_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("model", [
    ["model=multvae", "model.batch_size=32"],  # user batches
    ["model=neumf"],  # interaction batches with negatives
    ["model=cfgan", "model.batch_size=32"],  # two optimisers, manual optimisation
    ["model=recvae", "model.batch_size=32", "model.hidden_dim=32"],  # alternating optimisers
])
def test_ddp_test_metrics_equal_a_single_process_evaluation_of_the_checkpoint(model, tmp_path):
    overrides = [*model, *TINY_DATA]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "run.py", "logger=none", "trainer=ddp", "trainer.devices=2",
                    "trainer.accelerator=cpu", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
                    f"hydra.run.dir={tmp_path}", *overrides], cwd=ROOT, env=env, check=True, timeout=300)
    results = json.loads((tmp_path / "results.json").read_text())

    cfg = compose_config(overrides, tmp_path / "single", tiny=False)
    data = load_dataset(cfg.dataset)
    split = build(cfg.split, "split")(data, seed=cfg.seed)
    model = instantiate(cfg.model, n_users=data.n_users, n_items=data.n_items)
    state = torch.load(tmp_path / "checkpoints/best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    model.eval()
    single = Evaluator(list(cfg.evaluation.ks), 17).evaluate(model, *split.stage("test"), "test", torch.device("cpu"))
    assert len(single.users) == (split.test.getnnz(axis=1) > 0).sum()
    expected = single.summary("test")
    got = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key


@pytest.fixture(scope="module")
def ml100k_pop(tmp_path_factory):
    if not os.environ.get("RECBENCH_DATA_DIR"):
        pytest.skip("RECBENCH_DATA_DIR is not set")
    run = train(compose_config(["model=pop", "dataset=ml-100k"], tmp_path_factory.mktemp("pop"), tiny=False))
    return run.metrics["test/ndcg@10"]


@pytest.mark.slow
@pytest.mark.parametrize("name, epochs", [("mf", 6), ("gmf", 6), ("neumf", 4), ("multvae", 15),
                                          ("multdae", 15), ("cfgan", 10),
                                          ("recvae", 15)])
def test_tuned_models_beat_popularity_on_ml100k_after_short_training(name, epochs, ml100k_pop, tmp_path):
    """The frozen ML-100K settings, trained briefly on the default 80/10/10 split, beat Pop by 10%."""
    cfg = compose_config([f"experiment={name}_ml100k", "split=random", "evaluation.refit=false",
                          f"trainer.max_epochs={epochs}", "evaluation.monitor=ndcg@10"], tmp_path, tiny=False)
    run = train(cfg)
    assert run.metrics["test/ndcg@10"] > ml100k_pop * 1.1
