"""Mult-VAE and Mult-DAE: likelihood, KL term and annealing schedule against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.multdae import MultDAE
from plugins.multvae import MultVAE, kl_weight, multinomial_nll


def test_multinomial_nll_matches_a_numpy_computation():
    logits = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0]])
    history = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -(log_softmax * history).sum(1).mean()
    got = multinomial_nll(torch.tensor(logits), torch.tensor(history))
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_kl_weight_grows_linearly_then_stops_at_the_cap():
    values = [kl_weight(step, anneal_cap=0.2, total_anneal_steps=100).item() for step in (0, 10, 20, 50, 1000)]
    assert values == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2])
    assert kl_weight(torch.tensor(30), anneal_cap=1.0, total_anneal_steps=60).item() == pytest.approx(0.5)


def test_loss_is_nll_plus_annealed_closed_form_kl():
    torch.manual_seed(0)
    model = MultVAE(4, 6, hidden_dims=[5], latent_dim=3, dropout=0.0, anneal_cap=0.5, total_anneal_steps=10)
    history = (torch.rand(4, 6) < 0.5).float()
    history[:, 0] = 1.0
    batch = {"users": torch.arange(4), "history": history, "step": torch.tensor(3)}
    mean, log_var = model.encode(history)
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    kl = torch.distributions.kl_divergence(posterior, prior).sum(-1).mean()
    torch.manual_seed(1)
    loss = model.loss(batch)
    torch.manual_seed(1)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)  # the same noise as in loss()
    expected = multinomial_nll(model.decoder(z), history) + 0.3 * kl
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_scores_are_deterministic_in_eval_mode_and_ignore_the_user_ids():
    model = MultVAE(4, 6, hidden_dims=[5], latent_dim=3).eval()
    history = torch.tensor([[1.0, 0, 0, 1, 0, 0], [0, 1.0, 1, 0, 0, 0]])
    a = model.score(torch.tensor([0, 1]), history)
    b = model.score(torch.tensor([3, 2]), history)
    torch.testing.assert_close(a, b)
    dae = MultDAE(4, 6, latent_dim=3).eval()
    torch.testing.assert_close(dae.score(torch.tensor([0, 1]), history), dae(history))


def test_dae_loss_is_the_multinomial_nll_of_its_reconstruction():
    model = MultDAE(4, 6, latent_dim=3, dropout=0.0)
    history = torch.tensor([[1.0, 0, 0, 1, 0, 0], [0, 1.0, 1, 0, 0, 1]])
    expected = multinomial_nll(model(history), history)
    assert model.loss({"users": torch.arange(2), "history": history}).item() == pytest.approx(expected.item())
