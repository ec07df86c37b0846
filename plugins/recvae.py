"""RecVAE: Mult-VAE with a composite prior, user-scaled KL and alternating updates."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require, require_positive
from recbench.nn import check_autoencoder, multinomial_nll


def log_normal(z: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """Element-wise log density of ``N(mean, exp(log_var))`` at ``z`` (all ``[B, d]``)."""
    return -0.5 * (log_var + math.log(2 * math.pi) + (z - mean).pow(2) / log_var.exp())


class Encoder(nn.Module):
    """Dense-residual layers with swish and layer norm (Shenbin et al., section 3.1)."""

    def __init__(self, n_items: int, hidden_dim: int, latent_dim: int, n_layers: int = 5):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(n_items if i == 0 else hidden_dim, hidden_dim) for i in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_dim) for _ in range(n_layers))
        self.head = nn.Linear(hidden_dim, 2 * latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance ``[B, latent_dim]`` of prepared inputs ``[B, n_items]``."""
        outputs: list[Tensor] = []
        h = x
        for layer, norm in zip(self.layers, self.norms):
            # Each layer also receives the sum of all previous layers' outputs.
            h = norm(F.silu(layer(h) + sum(outputs)))
            outputs.append(h)
        mean, log_var = self.head(h).chunk(2, dim=-1)
        return mean, log_var


class RecVAE(nn.Module):
    """RecVAE (Shenbin, Alekseev, Tutubalina, Malykh and Nikolenko, WSDM 2020).

    Differences from Mult-VAE: a deeper dense encoder; the composite prior
    ``p(z) = 3/20 N(0, I) + 3/4 q_old(z | x) + 1/10 N(0, e^10 I)`` where ``q_old`` is a frozen
    copy of the encoder from the previous phase; the KL weight ``beta = gamma * |x_u|`` grows with
    the user's number of interactions; and alternating updates: ``encoder_steps`` encoder updates
    (input dropout, full ELBO), then ``decoder_steps`` decoder updates (no dropout, likelihood only),
    after which ``q_old`` is refreshed. The phases alternate by optimizer step (the paper alternates
    by epoch), which keeps the schedule a function of the step count alone.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        hidden_dim: width of the encoder layers.
        latent_dim: size of the latent code.
        dropout: input dropout probability in the encoder phase.
        gamma: KL weight per user interaction.
        encoder_steps: encoder updates per cycle.
        decoder_steps: decoder updates per cycle.
        batch_size: users per batch.
        optimizer: a partial that takes parameters, used for the encoder and for the decoder.
    """

    batch_kind = "users"
    manual_optimization = True
    prior_weights = (3 / 20, 3 / 4, 1 / 10)

    def __init__(self, n_users: int, n_items: int, hidden_dim: int = 600, latent_dim: int = 200,
                 dropout: float = 0.5, gamma: float = 0.005, encoder_steps: int = 3, decoder_steps: int = 1,
                 batch_size: int = 500, optimizer: Callable | None = None):
        super().__init__()
        check_autoencoder([hidden_dim], latent_dim, dropout, batch_size)
        require(gamma >= 0, f"model.gamma must be >= 0, got {gamma!r}")
        require_positive("model.encoder_steps", encoder_steps, integer=True)
        require_positive("model.decoder_steps", decoder_steps, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.gamma, self.dropout = gamma, dropout
        self.encoder_steps, self.decoder_steps = encoder_steps, decoder_steps
        self.batch_size = batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=5e-4))
        self.encoder = Encoder(n_items, hidden_dim, latent_dim)
        self.old_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.decoder = nn.Linear(latent_dim, n_items)

    def configure_optimizers(self):
        return [self.optimizer(self.encoder.parameters()), self.optimizer(self.decoder.parameters())]

    def _prepare(self, history: Tensor, dropout: float) -> Tensor:
        return F.dropout(F.normalize(history, dim=-1), p=dropout, training=self.training)

    def elbo_loss(self, history: Tensor, dropout: float, with_kl: bool) -> Tensor:
        """Negative ELBO (or the likelihood alone) of histories ``[B, n_items]``, averaged over users."""
        mean, log_var = self.encoder(self._prepare(history, dropout))
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)  # [B, latent_dim]
        nll = multinomial_nll(self.decoder(z), history)
        if not with_kl:
            return nll
        old_mean, old_log_var = self.old_encoder(self._prepare(history, 0.0))
        components = torch.stack([
            log_normal(z, torch.zeros_like(z), torch.zeros_like(z)),
            log_normal(z, old_mean, old_log_var),
            log_normal(z, torch.zeros_like(z), torch.full_like(z, 10.0)),
        ])  # [3, B, latent_dim]
        log_weights = torch.log(torch.tensor(self.prior_weights, device=z.device))[:, None, None]
        log_prior = torch.logsumexp(components + log_weights, dim=0)
        kl = (log_normal(z, mean, log_var) - log_prior).sum(-1)  # [B], single-sample estimate
        beta = self.gamma * history.sum(-1)  # [B]
        return nll + (beta * kl).mean()

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The encoder phase's loss (training itself goes through :meth:`manual_step`)."""
        return self.elbo_loss(batch["history"], self.dropout, with_kl=True)

    def manual_step(self, batch: dict[str, Tensor], module) -> Tensor:
        """One update of the encoder or of the decoder, by the position of ``step`` in the cycle."""
        encoder_opt, decoder_opt = module.optimizers()
        cycle = self.encoder_steps + self.decoder_steps
        # One optimizer step per training batch; module.global_step is a host int (no device sync).
        position = module.global_step % cycle
        encoder_phase = position < self.encoder_steps
        optimizer = encoder_opt if encoder_phase else decoder_opt
        module.toggle_optimizer(optimizer)
        loss = (self.elbo_loss(batch["history"], self.dropout, with_kl=True) if encoder_phase
                else self.elbo_loss(batch["history"], 0.0, with_kl=False))
        optimizer.zero_grad()
        module.manual_backward(loss)
        optimizer.step()
        module.untoggle_optimizer(optimizer)
        if position == self.encoder_steps - 1:
            # The encoder phase ends: the prior's q_old becomes this encoder.
            self.old_encoder.load_state_dict(self.encoder.state_dict())
        return loss.detach()

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        mean, _ = self.encoder(F.normalize(history, dim=-1))
        return self.decoder(mean)  # [B, n_items]
