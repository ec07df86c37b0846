"""Slow checks: DDP over 2 CPU processes tests every user once; models beat popularity on ML-100K."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recbench.experiment import train
from tests.ddp_check import assert_ddp_matches_a_single_process
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
    assert_ddp_matches_a_single_process([*model, *TINY_DATA], tmp_path)


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
                          f"trainer.max_epochs={epochs}", "evaluation.monitor=valid/ndcg@10"], tmp_path, tiny=False)
    run = train(cfg)
    assert run.metrics["test/ndcg@10"] > ml100k_pop * 1.1
