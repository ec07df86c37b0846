"""CFGAN: the masking schemes, the two losses by hand, and both networks learning."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from plugins.cfgan import CFGAN, sample_unseen
from recbench.data.interactions import Interactions
from recbench.data.split import RandomSplit
from recbench.data.synthetic import generate_synthetic
from recbench.training.module import InteractionDataModule, RecommenderModule


def test_sampled_items_are_never_purchased_and_follow_the_ratio():
    torch.manual_seed(0)
    history = (torch.rand(200, 300) < 0.2).float()
    sample = sample_unseen(history, 0.7)
    assert (sample * history).sum() == 0
    share = sample.sum() / (1 - history).sum()
    assert share.item() == pytest.approx(0.7, abs=0.01)
    assert sample_unseen(history, 0.0).sum() == 0


def test_losses_match_the_formulas_with_the_same_masks():
    model = CFGAN(3, 6, generator_dims=[4], discriminator_dims=[4], zr_ratio=0.5, pm_ratio=0.5,
                  zr_coefficient=0.3)
    history = torch.tensor([[1.0, 0, 0, 1, 0, 0], [0, 1.0, 1, 0, 0, 1]])
    torch.manual_seed(5)
    g_loss = model.generator_loss(history)
    torch.manual_seed(5)
    pm, zr = sample_unseen(history, 0.5), sample_unseen(history, 0.5)
    generated = model.generator(history)
    d_fake = model.discriminator(torch.cat([generated * (history + pm), history], 1)).squeeze(1)
    expected = -F.logsigmoid(d_fake).mean() + 0.3 * (generated.pow(2) * zr).sum(1).mean()
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-6)

    torch.manual_seed(6)
    d_loss = model.discriminator_loss(history)
    torch.manual_seed(6)
    pm = sample_unseen(history, 0.5)
    d_real = model.discriminator(torch.cat([history, history], 1)).squeeze(1)
    d_fake = model.discriminator(torch.cat([generated * (history + pm), history], 1)).squeeze(1)
    expected = -(F.logsigmoid(d_real) + torch.log1p(-torch.sigmoid(d_fake))).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_one_lightning_epoch_updates_both_networks_with_their_own_optimisers(tmp_path):
    frame, _ = generate_synthetic(n_users=60, n_items=40, mean_interactions=10.0, seed=0)
    split = RandomSplit()(Interactions.from_frame(frame), seed=0)
    model = CFGAN(split.n_users, split.n_items, generator_dims=[8], discriminator_dims=[8], batch_size=16,
                  optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    module = RecommenderModule(model, split.n_items, [10])
    data = InteractionDataModule(split, "users", 16, 32, seed=0)
    trainer = pl.Trainer(max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, datamodule=data)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == set(before)  # every weight of both networks moved
    assert trainer.global_step == 2 * 4  # 60 users / 16 per batch = 4 batches, two optimiser steps each
