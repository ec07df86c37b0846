"""Variational autoencoder with a multinomial likelihood (Liang et al., WWW 2018)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require, require_positive
from recbench.nn import check_autoencoder, kl_weight, multinomial_nll, tanh_stack


class MultVAE(nn.Module):
    """Mult-VAE^PR: encode a user's normalised history to a Gaussian, decode to a softmax over items.

    Liang, Krishnan, Hoffman and Jebara, "Variational Autoencoders for Collaborative Filtering",
    WWW 2018. The input row is L2-normalised and dropped out; the loss is the multinomial negative
    log-likelihood plus ``beta`` times the KL divergence to N(0, I), with ``beta`` annealed
    linearly from 0 over ``total_anneal_steps`` optimizer steps and capped at ``anneal_cap``.
    Scores are the decoder's logits at the posterior mean.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        hidden_dims: encoder layer sizes between the items and the latent code (the decoder mirrors).
        latent_dim: size of the latent code.
        dropout: input dropout probability.
        anneal_cap: the largest KL weight beta.
        total_anneal_steps: optimizer steps for beta to grow from 0 to 1 (before the cap).
        batch_size: users per batch.
        optimizer: a partial that takes the parameters.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)

    batch_kind = "users"

    def __init__(self, n_users: int, n_items: int, hidden_dims: Sequence[int] = (600,), latent_dim: int = 200,
                 dropout: float = 0.5, anneal_cap: float = 0.2, total_anneal_steps: int = 20000,
                 batch_size: int = 500, optimizer: Callable | None = None):
        super().__init__()
        check_autoencoder(hidden_dims, latent_dim, dropout, batch_size)
        require(anneal_cap >= 0, f"model.anneal_cap must be >= 0, got {anneal_cap!r}")
        require_positive("model.total_anneal_steps", total_anneal_steps, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.anneal_cap, self.total_anneal_steps = anneal_cap, total_anneal_steps
        self.batch_size = batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.dropout = nn.Dropout(dropout)
        # The last encoder layer outputs the mean and the log-variance side by side.
        self.encoder = tanh_stack([n_items, *hidden_dims, 2 * latent_dim])
        self.decoder = tanh_stack([latent_dim, *reversed(hidden_dims), n_items])
        self.latent_dim = latent_dim

    def encode(self, history: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance, each ``[B, latent_dim]``, of histories ``[B, n_items]``."""
        h = self.encoder(self.dropout(F.normalize(history, dim=-1)))  # [B, 2 * latent_dim]
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, n_items]
        mean, log_var = self.encode(history)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)  # reparameterisation
        kl = 0.5 * (log_var.exp() + mean.pow(2) - 1 - log_var).sum(-1).mean()
        beta = kl_weight(batch["step"], self.anneal_cap, self.total_anneal_steps)  # a CPU scalar
        return multinomial_nll(self.decoder(z), history) + beta * kl

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        mean, _ = self.encode(history)
        return self.decoder(mean)  # [B, n_items]
