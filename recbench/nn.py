"""Layers and losses that several model plugins share (plugins import these, never each other).

- NCF's building blocks (He et al., WWW 2017): :class:`GMFBranch` (the element-wise product of user
  and item factors) and :class:`MLPBranch` (concatenated embeddings through ReLU layers), used by
  the ``gmf``, ``mlp`` and ``neumf`` plugins, :func:`pointwise_bce`, their training loss, and
  :class:`PointwiseNCF` and :class:`OneBranchNCF`, what the three models share.
- The autoencoders' pieces (Liang et al., WWW 2018): :func:`tanh_stack`, :func:`multinomial_nll`,
  :func:`kl_weight` and :func:`check_autoencoder`, used by ``multvae``, ``multdae`` and ``recvae``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require_fraction, require_positive
from recbench.feature_layers import SideFeatures, feature_side_inputs, training_degrees


# -- Neural Collaborative Filtering ------------------------------------------------------------
def ncf_embeddings(n_users: int, n_items: int, embedding_dim: int) -> tuple[nn.Embedding, nn.Embedding]:
    """User and item embeddings initialised from N(0, 0.01), as in the NCF paper."""
    require_positive("model.embedding_dim", embedding_dim, integer=True)
    users, items = nn.Embedding(n_users, embedding_dim), nn.Embedding(n_items, embedding_dim)
    nn.init.normal_(users.weight, std=0.01)
    nn.init.normal_(items.weight, std=0.01)
    return users, items


class _IdVectors(nn.Module):
    """User and item embeddings, plus optional side features (:class:`SideFeatures`).

    With features, an id's vector is its embedding (zero for a cold id) plus a linear map of its
    features. The feature modules are created after the embeddings, so a model without features
    draws exactly the same initial weights as before features existed.
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int):
        super().__init__()
        self.user_embedding, self.item_embedding = ncf_embeddings(n_users, n_items, embedding_dim)

    def _add_features(self, item_features, user_features) -> None:
        d = self.user_embedding.embedding_dim
        self.item_side = SideFeatures(self.item_embedding.num_embeddings, d, item_features) \
            if item_features is not None else None
        self.user_side = SideFeatures(self.user_embedding.num_embeddings, d, user_features) \
            if user_features is not None else None

    def set_warm(self, train) -> None:
        """Record which ids have training interactions (binary CSR ``[n_users, n_items]``)."""
        user_degree, item_degree = training_degrees(train)
        for side, degree in ((self.user_side, user_degree), (self.item_side, item_degree)):
            if side is not None:
                side.set_warm(degree)

    def user_vectors(self, users: Tensor | None = None) -> Tensor:
        """Users' vectors ``[*S, d]`` (all users when None)."""
        vectors = self.user_embedding.weight if users is None else self.user_embedding(users)
        return vectors if self.user_side is None else self.user_side(vectors, users)

    def item_vectors(self, items: Tensor | None = None) -> Tensor:
        """Items' vectors ``[*S, d]`` (all items when None)."""
        vectors = self.item_embedding.weight if items is None else self.item_embedding(items)
        return vectors if self.item_side is None else self.item_side(vectors, items)


class GMFBranch(_IdVectors):
    """``p_u * q_i``: the element-wise product of user and item factors (NCF, section 3.2).

    Args:
        n_users: number of users.
        n_items: number of items.
        embedding_dim: size of the factors.
        item_features: optional item side features added to the item factors.
        user_features: optional user side features added to the user factors.
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, item_features=None, user_features=None):
        super().__init__(n_users, n_items, embedding_dim)
        self._add_features(item_features, user_features)

    @property
    def out_features(self) -> int:
        return self.user_embedding.embedding_dim

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Products ``[*S, d]`` for user-item pairs broadcast to a common shape ``S``."""
        return self.user_vectors(users) * self.item_vectors(items)

    def score_all(self, users: Tensor, weight: Tensor) -> Tensor:
        """``weight . (p_u * q_i)`` for every item, ``[B, n_items]``, from weights ``[d]``.

        ``(p_u * w) . q_i`` is one matrix product instead of a ``[B, n_items, d]`` tensor.
        """
        return (self.user_vectors(users) * weight) @ self.item_vectors().T


_CHUNK_VALUES = 1 << 20  # activations held at once when scoring every item on the CPU (4 MB)


class MLPBranch(_IdVectors):
    """User and item embeddings, concatenated, through ReLU layers (NCF, section 3.3).

    Args:
        n_users: number of users.
        n_items: number of items.
        embedding_dim: size of the user and of the item embedding.
        hidden_dims: sizes of the hidden ReLU layers.
        dropout: dropout after each hidden layer.
        item_features: optional item side features added to the item embeddings.
        user_features: optional user side features added to the user embeddings.
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, hidden_dims: Sequence[int],
                 dropout: float = 0.0, item_features=None, user_features=None):
        for width in hidden_dims:
            require_positive("every entry of model.hidden_dims", width, integer=True)
        require_fraction("model.dropout", dropout)
        super().__init__(n_users, n_items, embedding_dim)
        layers, width = [], 2 * embedding_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.tower = nn.Sequential(*layers)
        self.out_features = width
        self._add_features(item_features, user_features)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """The last hidden layer ``[*S, h]`` for user-item pairs broadcast to a common shape ``S``."""
        u = self.user_vectors(users)  # [*S, d]
        i = self.item_vectors(items)  # [*S, d]
        u, i = torch.broadcast_tensors(u, i)
        return self.tower(torch.cat([u, i], dim=-1))  # [*S, h]

    def all_items(self, users: Tensor) -> Tensor:
        """The last hidden layer of each user with every item, ``[B, n_items, h]``.

        The first layer of ``[u; i]`` splits into ``W_u u + W_i i``: computing each half once and
        broadcasting avoids building the ``[B, n_items, 2d]`` concatenation.
        """
        n_items = self.item_embedding.num_embeddings
        if len(self.tower) == 0:  # no hidden layer: the features are [u; i] themselves
            return self(users[:, None], torch.arange(n_items, device=users.device)[None, :])
        first, rest = self.tower[0], self.tower[1:]
        d = self.user_embedding.embedding_dim
        user_part = self.user_vectors(users) @ first.weight[:, :d].T + first.bias  # [B, h1]
        item_part = self.item_vectors() @ first.weight[:, d:].T  # [n_items, h1]
        return rest(user_part[:, None, :] + item_part[None, :, :])  # [B, n_items, h_last]

    def score_all(self, users: Tensor, weight: Tensor) -> Tensor:
        """``weight . tower([u; i])`` for every item, ``[B, n_items]``, from weights ``[h_last]``.

        On the CPU a few users at a time: the tower's activations for B users and every item are
        ``[B, n_items, h]`` (110 MB for 256 users x 1,682 items x 64 units), which each layer
        would stream through memory; chunks of about a million values stay in cache, and
        ML-100K's full ranking runs about 5x faster. A GPU takes the whole batch at once.
        """
        if users.device.type != "cpu":
            return self.all_items(users) @ weight
        width = self.tower[0].out_features if len(self.tower) else 2 * self.user_embedding.embedding_dim
        chunk = max(1, _CHUNK_VALUES // (self.item_embedding.num_embeddings * width))
        return torch.cat([self.all_items(part) @ weight for part in users.split(chunk)])  # [B, n_items]


def pointwise_bce(model: Callable[[Tensor, Tensor], Tensor], batch: dict[str, Tensor]) -> Tensor:
    """Binary cross-entropy of ``model(users, items)`` logits: the positive is 1, negatives 0.

    On the logits (``binary_cross_entropy_with_logits``): applying ``BCELoss`` to an unbounded
    linear output, as some tutorials do, is a bug.

    Args:
        model: maps broadcastable ``users`` ``[B, 1]`` and ``items`` ``[B, 1 + n_neg]`` to logits.
        batch: an ``"interactions"`` batch.
    """
    users = batch["users"][:, None]  # [B, 1]
    items = torch.cat([batch["items"][:, None], batch["negatives"]], dim=1)  # [B, 1 + n_neg]
    logits = model(users, items)  # [B, 1 + n_neg]
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(logits, labels)



class PointwiseNCF(nn.Module):
    """What GMF, MLP and NeuMF share: interaction batches with ``num_negatives`` sampled unseen
    items, :func:`pointwise_bce` on their logits, and optional side features in their branches.

    A subclass calls :meth:`_init_training` first, builds its branches with the side features it
    returns, and lists them in :meth:`branches`.
    """

    batch_kind = "interactions"

    def _init_training(self, name: str, n_users: int, n_items: int, num_negatives: int, batch_size: int,
                       optimizer: Callable | None, use_features: bool, feature_inputs: Sequence[str],
                       item_features, user_features) -> dict:
        """Check and keep the training settings; returns the branches' side-feature arguments."""
        item_features, user_features = feature_side_inputs(
            name, use_features, feature_inputs, item_features, user_features)
        self.feature_inputs = tuple(feature_inputs) if use_features else ()
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        return {"item_features": item_features, "user_features": user_features}

    def branches(self) -> tuple[nn.Module, ...]:
        """The branches holding the user and item embeddings."""
        raise NotImplementedError

    def prepare(self, train) -> None:
        """Record which ids have training interactions (a cold id is scored from its features)."""
        for branch in self.branches():
            branch.set_warm(train)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return pointwise_bce(self, batch)


class OneBranchNCF(PointwiseNCF):
    """GMF or MLP: one branch (``self.branch``) and a linear ``self.output`` to one logit."""

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits ``[*S]`` for user-item pairs broadcast to a common shape ``S``."""
        return self.output(self.branch(users, items)).squeeze(-1)

    def branches(self) -> tuple[nn.Module, ...]:
        return (self.branch,)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.branch.score_all(users, self.output.weight[0]) + self.output.bias  # [B, n_items]


# -- autoencoders ------------------------------------------------------------------------------
def tanh_stack(dims: Sequence[int]) -> nn.Sequential:
    """Linear layers ``dims[0] -> ... -> dims[-1]`` with tanh between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if i < len(dims) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def multinomial_nll(logits: Tensor, history: Tensor) -> Tensor:
    """``-sum_i x_ui log softmax(logits_u)_i``, averaged over users.

    Args:
        logits: decoder outputs ``[B, n_items]``.
        history: the users' interactions ``[B, n_items]`` (0/1).
    """
    return -(F.log_softmax(logits, dim=-1) * history).sum(-1).mean()


def kl_weight(step: Tensor | int, anneal_cap: float, total_anneal_steps: int) -> Tensor:
    """The KL weight beta: ``min(anneal_cap, step / total_anneal_steps)`` (Liang et al., 2.2.2)."""
    return torch.as_tensor(step, dtype=torch.float32).div(total_anneal_steps).clamp(max=anneal_cap)


def check_autoencoder(hidden_dims: Sequence[int], latent_dim: int, dropout: float, batch_size: int) -> None:
    """The checks every autoencoder's constructor makes of its shared hyperparameters."""
    for width in hidden_dims:
        require_positive("every entry of model.hidden_dims", width, integer=True)
    require_positive("model.latent_dim", latent_dim, integer=True)
    require_fraction("model.dropout", dropout)
    require_positive("model.batch_size", batch_size, integer=True)
