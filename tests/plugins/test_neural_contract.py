"""The behavioural checks every gradient plugin passes: trains, scores, deterministic, masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from recbench.data.interactions import Interactions
from recbench.data.split import RandomSplit
from recbench.data.synthetic import generate_synthetic
from recbench.experiment import train
from recbench.training.batches import InteractionBatches, UserBatches
from recbench.plugin import GradientModel
from tests.helpers import compose_config

NEURAL = ["mf", "gmf", "neumf", "multvae", "multdae", "cfgan", "recvae"]


def build(name: str, tmp_path, overrides=()):
    cfg = compose_config([f"model={name}", *overrides], tmp_path)
    return cfg, instantiate(cfg.model, n_users=7, n_items=11)


@pytest.mark.parametrize("name", NEURAL)
def test_scores_every_item_with_finite_values(name, tmp_path):
    _, model = build(name, tmp_path)
    assert isinstance(model, GradientModel)
    model.eval()
    users = torch.tensor([0, 3, 6])
    history = torch.zeros(3, 11)
    history[0, [1, 2]] = 1.0
    history[2, 5] = 1.0
    scores = model.score(users, history)
    assert scores.shape == (3, 11)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NEURAL)
def test_same_seed_gives_identical_metrics(name, tmp_path):
    runs = [train(compose_config([f"model={name}", "trainer.max_epochs=2"], tmp_path / str(i)))
            for i in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert all(np.isfinite(v) for v in runs[0].metrics.values())
    assert runs[0].timing.epochs == 2


@pytest.mark.parametrize("name", ["mf", "multvae"])
def test_a_different_seed_gives_different_metrics(name, tmp_path):
    a = train(compose_config([f"model={name}", "trainer.max_epochs=1"], tmp_path / "a"))
    b = train(compose_config([f"model={name}", "trainer.max_epochs=1", "seed=7"], tmp_path / "b"))
    assert a.metrics != b.metrics


@pytest.mark.parametrize("name", [*NEURAL, "mlp"])
def test_frozen_ml100k_experiment_composes_and_builds(name, tmp_path):
    cfg = compose_config([f"experiment={name}_ml100k"], tmp_path, tiny=False)
    assert cfg.dataset.name == "ml-100k" and cfg.evaluation.refit is True
    assert list(cfg.split.ratios) == [0.64, 0.16, 0.2]
    model = instantiate(cfg.model, n_users=5, n_items=9)
    assert model.score(torch.arange(2), torch.zeros(2, 9)).shape == (2, 9)


@pytest.mark.parametrize("name", ["mf", "gmf", "neumf", "multvae", "multdae"])
def test_optimising_one_batch_lowers_its_loss(name, tmp_path):
    frame, _ = generate_synthetic(n_users=80, n_items=50, mean_interactions=12.0, seed=0)
    split = RandomSplit()(Interactions.from_frame(frame), seed=0)
    cfg = compose_config([f"model={name}", "model.optimizer.lr=0.01"], tmp_path)
    torch.manual_seed(0)
    model = instantiate(cfg.model, n_users=split.n_users, n_items=split.n_items)
    if model.batch_kind == "interactions":
        batch = InteractionBatches(split.train, 256, model.num_negatives, seed=0)[(0, 0)]
    else:
        batch = UserBatches(split.train, 64, seed=0)[(0, 0)]
    batch["step"] = torch.tensor(0)  # KL weight 0: the likelihood alone must improve
    optimizer = model.optimizer(model.parameters())
    losses = []
    for _ in range(120):
        loss = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def test_cfgan_discriminator_learns_to_tell_real_from_generated():
    frame, _ = generate_synthetic(n_users=80, n_items=50, mean_interactions=12.0, seed=0)
    split = RandomSplit()(Interactions.from_frame(frame), seed=0)
    torch.manual_seed(0)
    model = instantiate(compose_config(["model=cfgan", "model.optimizer.lr=0.001"], Path("unused")).model,
                        n_users=split.n_users, n_items=split.n_items)
    _, discriminator_opt = model.configure_optimizers()
    history = UserBatches(split.train, 64, seed=0)[(0, 0)]["history"]
    losses = []
    for _ in range(120):
        loss = model.discriminator_loss(history)
        discriminator_opt.zero_grad()
        loss.backward()
        discriminator_opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])
