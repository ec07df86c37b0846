"""DropoutNet (Volkovs, Yu and Poutanen, NeurIPS 2017): one model for warm and cold ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require, require_fraction, require_positive
from recbench.feature_layers import (
    FeatureProjection,
    check_loss_name,
    feature_tensors,
    ranking_loss,
    training_degrees,
)

FEATURE_KINDS = ("item", "user")


class _Tower(nn.Module):
    """``[cf, content]`` through tanh layers into the scoring space.

    The first layer's content half is a :class:`FeatureProjection` (sparse features stay cheap);
    ``W [cf; x] = W_cf cf + W_x x``, so nothing is concatenated.
    """

    def __init__(self, cf_dim: int, features, hidden_dims: Sequence[int], latent_dim: int):
        super().__init__()
        widths = [*hidden_dims, latent_dim]
        self.cf = nn.Linear(cf_dim, widths[0])
        self.content = FeatureProjection(features, widths[0]) if features is not None else None
        layers = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Tanh(), nn.Linear(width_in, width_out)]
        self.rest = nn.Sequential(*layers)

    def forward(self, cf: Tensor, index: Tensor | None = None) -> Tensor:
        """``[*S, latent_dim]`` from CF inputs ``[*S, cf_dim]`` of the ids ``index`` (all when None)."""
        first = self.cf(cf)
        if self.content is not None:
            first = first + self.content(index)
        return self.rest(first)


class DropoutNet(nn.Module):
    """``score(u, i) = f_U([p_u, x_u]) . f_V([q_i, x_i])``, trained with dropout of the CF inputs.

    Volkovs et al., "DropoutNet: Addressing Cold Start in Recommender Systems", NeurIPS 2017. Each
    side concatenates a collaborative embedding (``p_u``, ``q_i``) with its content (``x_u``,
    ``x_i``) and maps it through a tanh tower into a shared scoring space. During training the CF
    input of each item (and of each user that has features) is set to zero with probability
    ``cf_dropout``, so the towers learn to score from content alone; a cold id (no training
    interaction, see :meth:`prepare`) always gets a zero CF input, exactly as a dropped-out one.

    The paper fits the towers to reproduce a pretrained CF model's scores; here the CF embeddings
    are trained jointly, through the towers, with a ranking loss on sampled negatives (one plugin,
    one training run). The paper's "transform" of a user's preference input is not used.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        item_features: item content (``values`` ``[n_items, dim]``, ``mask``), given by recbench.
        user_features: user content ``[n_users, dim]``, when ``"user"`` is in ``feature_inputs``.
        feature_inputs: which side features the model uses (``item`` is required).
        embedding_dim: size of the CF embeddings.
        hidden_dims: hidden tanh layer sizes of both towers.
        latent_dim: size of the scoring space.
        cf_dropout: probability of zeroing an id's CF input in a training example.
        loss: ``bpr``, ``warp`` or ``sampled_softmax``.
        num_negatives: sampled unseen items per training interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "interactions"

    def __init__(self, n_users: int, n_items: int, item_features=None, user_features=None,
                 feature_inputs: Sequence[str] = ("item",), embedding_dim: int = 64,
                 hidden_dims: Sequence[int] = (200,), latent_dim: int = 64, cf_dropout: float = 0.5,
                 loss: str = "bpr", num_negatives: int = 8, batch_size: int = 1024,
                 optimizer: Callable | None = None):
        super().__init__()
        feature_inputs = tuple(feature_inputs)
        require("item" in feature_inputs and set(feature_inputs) <= set(FEATURE_KINDS),
                f"model.feature_inputs of dropoutnet must list item (and optionally user), "
                f"got {list(feature_inputs)}")
        for name, value in (("embedding_dim", embedding_dim), ("latent_dim", latent_dim),
                            ("num_negatives", num_negatives), ("batch_size", batch_size)):
            require_positive(f"model.{name}", value, integer=True)
        for width in hidden_dims:
            require_positive("every entry of model.hidden_dims", width, integer=True)
        require_fraction("model.cf_dropout", cf_dropout)
        check_loss_name(loss)
        item_features = feature_tensors(item_features, "dropoutnet", "item")
        if "user" in feature_inputs:
            user_features = feature_tensors(user_features, "dropoutnet", "user")
        else:
            user_features = None
        self.n_users, self.n_items = n_users, n_items
        self.feature_inputs, self.cf_dropout, self.loss_name = feature_inputs, cf_dropout, loss
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))

        self.user_cf = nn.Embedding(n_users, embedding_dim)
        self.item_cf = nn.Embedding(n_items, embedding_dim)
        nn.init.normal_(self.user_cf.weight, std=0.1)
        nn.init.normal_(self.item_cf.weight, std=0.1)
        self.user_tower = _Tower(embedding_dim, user_features, hidden_dims, latent_dim)
        self.item_tower = _Tower(embedding_dim, item_features, hidden_dims, latent_dim)
        # Ids with training interactions; all warm until prepare() is called.
        self.register_buffer("user_warm", torch.ones(n_users, dtype=torch.bool))
        self.register_buffer("item_warm", torch.ones(n_items, dtype=torch.bool))

    def prepare(self, train: sp.csr_matrix) -> None:
        """Record which users and items have training interactions; the others are cold."""
        user_degree, item_degree = training_degrees(train)
        self.user_warm.copy_(torch.as_tensor(np.asarray(user_degree) > 0, device=self.user_warm.device))
        self.item_warm.copy_(torch.as_tensor(np.asarray(item_degree) > 0, device=self.item_warm.device))

    def _keep(self, warm: Tensor) -> Tensor:
        """Whether each id's CF input is kept: warm, and not dropped out in training. ``[*S, 1]``."""
        if self.training and self.cf_dropout > 0:
            warm = warm & (torch.rand(warm.shape, device=warm.device) >= self.cf_dropout)
        return warm[..., None]

    def item_vectors(self, items: Tensor | None = None) -> Tensor:
        """Items in the scoring space, ``[*S, latent_dim]`` (all items when None)."""
        cf = self.item_cf.weight if items is None else self.item_cf(items)
        warm = self.item_warm if items is None else self.item_warm[items]
        cf = torch.where(self._keep(warm), cf, torch.zeros((), device=cf.device))
        return self.item_tower(cf, items)

    def user_vectors(self, users: Tensor) -> Tensor:
        """Users in the scoring space, ``[B, latent_dim]``."""
        cf = self.user_cf(users)
        if self.user_tower.content is not None:  # without user content the CF input is all there is
            cf = torch.where(self._keep(self.user_warm[users]), cf, torch.zeros((), device=cf.device))
        return self.user_tower(cf, users)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        u = self.user_vectors(batch["users"])  # [B, h]
        positive = (u * self.item_vectors(batch["items"])).sum(-1)  # [B]
        negative = torch.einsum("bh,bkh->bk", u, self.item_vectors(batch["negatives"]))  # [B, K]
        return ranking_loss(positive, negative, self.loss_name, self.n_items)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.user_vectors(users) @ self.item_vectors().T  # [B, n_items]
