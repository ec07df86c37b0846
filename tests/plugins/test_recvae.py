"""RecVAE: the prior's densities, and the alternating encoder/decoder phases in Lightning."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from plugins.recvae import RecVAE, log_normal
from recbench.data.interactions import Interactions
from recbench.data.split import RandomSplit
from recbench.data.synthetic import generate_synthetic
from recbench.training.module import InteractionDataModule, RecommenderModule


def test_log_normal_matches_torch_distributions():
    z, mean, log_var = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    expected = torch.distributions.Normal(mean, torch.exp(0.5 * log_var)).log_prob(z)
    torch.testing.assert_close(log_normal(z, mean, log_var), expected)


@pytest.mark.parametrize("steps, decoder_moved", [(3, False), (4, True)])
def test_three_encoder_steps_then_one_decoder_step_then_the_prior_follows(steps, decoder_moved, tmp_path):
    frame, _ = generate_synthetic(n_users=60, n_items=40, mean_interactions=10.0, seed=0)
    split = RandomSplit()(Interactions.from_frame(frame), seed=0)
    torch.manual_seed(0)
    model = RecVAE(split.n_users, split.n_items, hidden_dim=16, latent_dim=4, batch_size=8,
                   optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    encoder, decoder = ({k: v.clone() for k, v in m.state_dict().items()} for m in (model.encoder, model.decoder))
    trainer = pl.Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(RecommenderModule(model, split.n_items, [10]),
                datamodule=InteractionDataModule(split, "users", 8, 32, seed=0))
    assert all(not torch.equal(v, encoder[k]) for k, v in model.encoder.state_dict().items())
    assert all(torch.equal(v, decoder[k]) != decoder_moved for k, v in model.decoder.state_dict().items())
    for k, v in model.old_encoder.state_dict().items():  # refreshed when the encoder phase ended
        torch.testing.assert_close(v, model.encoder.state_dict()[k])
