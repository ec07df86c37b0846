"""Denoising autoencoder with a multinomial likelihood (Liang et al., WWW 2018)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.nn import check_autoencoder, multinomial_nll, tanh_stack


class MultDAE(nn.Module):
    """Mult-DAE: drop out a user's normalised history, reconstruct it as a softmax over items.

    Liang, Krishnan, Hoffman and Jebara, "Variational Autoencoders for Collaborative Filtering",
    WWW 2018 (the deterministic variant): the same shapes and multinomial log-likelihood as
    :class:`plugins.multvae.MultVAE` without the Gaussian code; regularised by the optimizer's
    weight decay.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        hidden_dims: encoder layer sizes between the items and the code (the decoder mirrors).
        latent_dim: size of the code.
        dropout: input dropout probability.
        batch_size: users per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "users"

    def __init__(self, n_users: int, n_items: int, hidden_dims: Sequence[int] = (), latent_dim: int = 200,
                 dropout: float = 0.5, batch_size: int = 500, optimizer: Callable | None = None):
        super().__init__()
        check_autoencoder(hidden_dims, latent_dim, dropout, batch_size)
        self.n_users, self.n_items = n_users, n_items
        self.batch_size = batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.dropout = nn.Dropout(dropout)
        # tanh after the code too, as in the paper's [I -> 200 -> I] network.
        self.encoder = nn.Sequential(tanh_stack([n_items, *hidden_dims, latent_dim]), nn.Tanh())
        self.decoder = tanh_stack([latent_dim, *reversed(hidden_dims), n_items])

    def forward(self, history: Tensor) -> Tensor:
        """Logits ``[B, n_items]`` reconstructing histories ``[B, n_items]``."""
        return self.decoder(self.encoder(self.dropout(F.normalize(history, dim=-1))))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return multinomial_nll(self(batch["history"]), batch["history"])

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self(history)  # [B, n_items]
