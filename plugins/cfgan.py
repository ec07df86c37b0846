"""Collaborative filtering GAN: a generator of purchase vectors against a discriminator."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require, require_fraction, require_positive


def sigmoid_stack(dims: Sequence[int]) -> nn.Sequential:
    """Xavier-initialised linear layers ``dims[0] -> ... -> dims[-1]`` with sigmoid between them.

    Sigmoid hidden units and Xavier initialisation follow the authors' implementation.
    """
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(zip(dims[:-1], dims[1:])):
        linear = nn.Linear(width_in, width_out)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(dims) - 2:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def sample_unseen(history: Tensor, ratio: float) -> Tensor:
    """Each item a user has not interacted with, kept with probability ``ratio``: 0/1 ``[B, n_items]``."""
    return ((torch.rand_like(history) < ratio) & (history == 0)).to(history.dtype)


class CFGAN(nn.Module):
    """CFGAN with zero-reconstruction and partial masking (the paper's CFGAN_ZP).

    Chae, Kang, Kim and Lee, "CFGAN: A Generic Collaborative Filtering Framework based on
    Generative Adversarial Networks", CIKM 2018. The generator maps a user's history ``c_u`` to a
    purchase vector ``x_u`` in ``[0, 1]^n_items``; the discriminator, also conditioned on ``c_u``,
    tells the real vector (``c_u`` itself) from the generated one. Only the purchased items and a
    partial-masking sample ``k_u`` (each unpurchased item with probability ``pm_ratio``) of the
    generated vector reach the discriminator: ``x_u * (c_u + k_u)``. Zero reconstruction pushes the
    generated values of another sample (probability ``zr_ratio``) towards 0 with weight
    ``zr_coefficient``. The generator uses the non-saturating loss ``-log D(fake)``. Scores are the
    generated vector.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        generator_dims: the generator's hidden layer sizes.
        discriminator_dims: the discriminator's hidden layer sizes.
        zr_ratio: share of unpurchased items reconstructed as zeros (0 disables the ZR scheme).
        pm_ratio: share of unpurchased items unmasked for the discriminator (0 disables PM).
        zr_coefficient: weight alpha of the zero-reconstruction term.
        generator_steps: generator updates per batch.
        discriminator_steps: discriminator updates per batch.
        batch_size: users per batch.
        optimizer: a partial that takes parameters, used for both networks.
    """

    batch_kind = "users"
    manual_optimization = True

    def __init__(self, n_users: int, n_items: int, generator_dims: Sequence[int] = (400,),
                 discriminator_dims: Sequence[int] = (125,), zr_ratio: float = 0.7, pm_ratio: float = 0.7,
                 zr_coefficient: float = 0.1, generator_steps: int = 1, discriminator_steps: int = 1,
                 batch_size: int = 64, optimizer: Callable | None = None):
        super().__init__()
        for width in (*generator_dims, *discriminator_dims):
            require_positive("every entry of model.generator_dims and model.discriminator_dims", width,
                             integer=True)
        require_fraction("model.zr_ratio", zr_ratio, closed=True)
        require_fraction("model.pm_ratio", pm_ratio, closed=True)
        require(zr_coefficient >= 0, f"model.zr_coefficient must be >= 0, got {zr_coefficient!r}")
        require_positive("model.generator_steps", generator_steps, integer=True)
        require_positive("model.discriminator_steps", discriminator_steps, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.zr_ratio, self.pm_ratio, self.zr_coefficient = zr_ratio, pm_ratio, zr_coefficient
        self.generator_steps, self.discriminator_steps = generator_steps, discriminator_steps
        self.batch_size = batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-4))
        self.generator = nn.Sequential(sigmoid_stack([n_items, *generator_dims, n_items]), nn.Sigmoid())
        self.discriminator = sigmoid_stack([2 * n_items, *discriminator_dims, 1])

    def configure_optimizers(self):
        return [self.optimizer(self.generator.parameters()), self.optimizer(self.discriminator.parameters())]

    def discriminate(self, vectors: Tensor, history: Tensor) -> Tensor:
        """Logits ``[B]`` that ``vectors`` ``[B, n_items]`` are real, given histories ``[B, n_items]``."""
        return self.discriminator(torch.cat([vectors, history], dim=-1)).squeeze(-1)

    def discriminator_loss(self, history: Tensor) -> Tensor:
        """``-log D(c_u | c_u) - log(1 - D(x_u * (c_u + k_u) | c_u))``, averaged over users."""
        with torch.no_grad():
            fake = self.generator(history) * (history + sample_unseen(history, self.pm_ratio))
        real_logits, fake_logits = self.discriminate(history, history), self.discriminate(fake, history)
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))

    def generator_loss(self, history: Tensor) -> Tensor:
        """``-log D(x_u * (c_u + k_u) | c_u) + alpha * sum_{j in ZR} x_uj^2``, averaged over users."""
        generated = self.generator(history)  # [B, n_items]
        fake_logits = self.discriminate(generated * (history + sample_unseen(history, self.pm_ratio)), history)
        zero_reconstruction = (generated.pow(2) * sample_unseen(history, self.zr_ratio)).sum(-1).mean()
        return (F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
                + self.zr_coefficient * zero_reconstruction)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The generator's loss on a batch (training itself goes through :meth:`manual_step`)."""
        return self.generator_loss(batch["history"])

    def manual_step(self, batch: dict[str, Tensor], module) -> Tensor:
        """The discriminator's updates, then the generator's; returns the last generator loss."""
        generator_opt, discriminator_opt = module.optimizers()
        history = batch["history"]
        for optimizer, loss_fn, steps in ((discriminator_opt, self.discriminator_loss, self.discriminator_steps),
                                          (generator_opt, self.generator_loss, self.generator_steps)):
            module.toggle_optimizer(optimizer)
            for _ in range(steps):
                loss = loss_fn(history)
                optimizer.zero_grad()
                module.manual_backward(loss)
                optimizer.step()
            module.untoggle_optimizer(optimizer)
        return loss.detach()

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.generator(history)  # [B, n_items]
