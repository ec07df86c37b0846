"""Layers that embed users or items from their ids and their side features, and ranking losses.

Shared by the feature-aware plugins (``hybridmf``, ``dropoutnet``, ``mlp``/``neumf`` with
``use_features``). How a model knows which ids are cold: recbench calls the optional plugin hook
``prepare(train)`` with the training matrix before every fit (see
:meth:`recbench.training.module.RecommenderModule.on_fit_start`); :class:`HybridEmbedding` records
there which ids have at least one training interaction (``warm``, a persistent buffer, so a
checkpoint keeps it). A cold id's vector is then its features' embedding only: its id embedding is
neither used when scoring nor trained (not even as a sampled negative), as in LightFM, where a new
item is the sum of its feature embeddings.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import RecbenchError, require

RANKING_LOSSES = ("bpr", "warp", "sampled_softmax")


class FeatureProjection(nn.Module):
    """A linear map of every id's feature vector, ``x_n W (+ b)``, computed from the nonzeros only.

    Side features are mostly sparse (multi-hot genres and tags, TF-IDF words): the rows are kept as
    bags of (column, value) and mapped with ``embedding_bag``, LightFM's sum of feature embeddings,
    at a cost of nonzeros x out_dim instead of n x dim x out_dim. Dense features (a text encoder's
    output) work the same way.

    Args:
        features: side features of every id (``values`` float ``[n, dim]``, ``mask`` bool ``[n]``).
        out_dim: output size.
        bias: add a bias (False: an id without features maps to zero).
    """

    def __init__(self, features, out_dim: int, bias: bool = False):
        super().__init__()
        values = torch.as_tensor(features.values, dtype=torch.float32)
        require(values.ndim == 2, f"features must be a matrix [n, dim], got shape {list(values.shape)}")
        rows, columns = values.nonzero(as_tuple=True)  # row-major, so each row's nonzeros are contiguous
        # Non-persistent: features come from the dataset, not from the checkpoint.
        self.register_buffer("columns", columns, persistent=False)  # [nnz]
        self.register_buffer("weights", values[rows, columns], persistent=False)  # [nnz]
        offsets = torch.zeros(values.shape[0], dtype=torch.long)
        offsets[1:] = torch.bincount(rows, minlength=values.shape[0]).cumsum(0)[:-1]
        self.register_buffer("offsets", offsets, persistent=False)  # [n]: start of each row's bag
        self.n, self.in_dim = values.shape
        self.weight = nn.Parameter(torch.randn(self.in_dim, out_dim) * 0.01)  # [dim, out_dim]
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, index: Tensor | None = None) -> Tensor:
        """``[*S, out_dim]`` for the ids in ``index`` (any shape ``S``); ``[n, out_dim]`` when None.

        All ids are mapped at once (cheap: nonzeros only) and then indexed.
        """
        out = F.embedding_bag(self.columns, self.weight, self.offsets, mode="sum",
                              per_sample_weights=self.weights)  # [n, out_dim]
        if self.bias is not None:
            out = out + self.bias
        return out if index is None else out[index]


class FeatureTower(nn.Module):
    """Features to vectors: a linear map, or ReLU layers then a linear map.

    With no hidden layer it is bias-free, so an id without features gets a zero vector.

    Args:
        features: side features of every id.
        out_dim: size of the output vectors.
        hidden_dims: hidden ReLU layer sizes.
        dropout: dropout after each hidden layer.
    """

    def __init__(self, features, out_dim: int, hidden_dims: Sequence[int] = (), dropout: float = 0.0):
        super().__init__()
        widths = [*hidden_dims, out_dim]
        self.first = FeatureProjection(features, widths[0], bias=bool(hidden_dims))
        layers = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(width_in, width_out)]
        self.rest = nn.Sequential(*layers)

    def forward(self, index: Tensor | None = None) -> Tensor:
        """``[*S, out_dim]`` for the ids in ``index``; all ids when None."""
        return self.rest(self.first(index))


class SideFeatures(nn.Module):
    """The side-feature part of ids' vectors, and which ids are warm.

    Combines an id part ``e[x]`` with the features' embedding: ``warm[x] * e[x] + tower(features[x])``.
    Models with their own id embeddings (mlp, neumf) add this module beside them, so that their
    parameters and checkpoints are unchanged when features are off.

    Args:
        n: number of ids (users or items).
        embedding_dim: size of the vectors.
        features: side features of every id (``values`` float ``[n, dim]``, ``mask`` bool ``[n]``).
        hidden_dims: hidden layers of the feature tower (empty: a linear map).
        dropout: dropout inside the feature tower.
    """

    def __init__(self, n: int, embedding_dim: int, features, hidden_dims: Sequence[int] = (),
                 dropout: float = 0.0):
        super().__init__()
        rows = len(features.values)
        require(rows == n, f"features must have one row per id: expected {n} rows, got {rows}")
        # Ids with a training interaction; all warm until set_warm() (through the plugin's prepare()).
        self.register_buffer("warm", torch.ones(n, dtype=torch.bool))
        self.tower = FeatureTower(features, embedding_dim, hidden_dims, dropout)

    def set_warm(self, degree: np.ndarray) -> None:
        """Mark the ids with at least one training interaction (``degree`` ``[n]``) as warm."""
        self.warm.copy_(torch.as_tensor(np.asarray(degree) > 0, device=self.warm.device))

    def content(self, index: Tensor | None = None) -> Tensor:
        """The features' embedding of ``index`` (any shape ``S``; all ids when None): ``[*S, embedding_dim]``."""
        return self.tower(index)

    def forward(self, id_vectors: Tensor, index: Tensor | None = None) -> Tensor:
        """``warm * id_vectors + content``, ``[*S, embedding_dim]``, for ``id_vectors`` of ``index``."""
        warm = self.warm if index is None else self.warm[index]
        # where, not a product: a cold id's embedding gets no gradient and cannot leak (NaN * 0).
        kept = torch.where(warm[..., None], id_vectors, torch.zeros((), device=id_vectors.device))
        return kept + self.content(index)


class HybridEmbedding(nn.Module):
    """``vector(x) = warm[x] * id_embedding[x] + tower(features[x])``, ``[*, embedding_dim]``.

    Args:
        n: number of ids (users or items).
        embedding_dim: size of the vectors.
        features: side features of every id (``values`` float ``[n, dim]``, ``mask`` bool ``[n]``),
            or None for an id-only embedding.
        use_ids: add the id embedding (False: content only, every id is treated as cold).
        hidden_dims: hidden layers of the feature tower (empty: a linear map).
        dropout: dropout inside the feature tower.
        init_std: standard deviation of the id embedding's initial values.
    """

    def __init__(self, n: int, embedding_dim: int, features=None, use_ids: bool = True,
                 hidden_dims: Sequence[int] = (), dropout: float = 0.0, init_std: float = 0.01):
        super().__init__()
        require(features is not None or use_ids, "an embedding needs ids or features")
        self.ids = nn.Embedding(n, embedding_dim) if use_ids else None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=init_std)
        self.side = SideFeatures(n, embedding_dim, features, hidden_dims, dropout) if features is not None else None

    def set_warm(self, degree: np.ndarray) -> None:
        """Mark the ids with at least one training interaction as warm (no-op without features)."""
        if self.side is not None:
            self.side.set_warm(degree)

    def forward(self, index: Tensor | None = None) -> Tensor:
        """Vectors of the ids in ``index`` (any shape ``S``) ``[*S, embedding_dim]``; all ids when None."""
        if self.side is None:
            return self.ids.weight if index is None else self.ids(index)
        if self.ids is None:
            return self.side.content(index)
        return self.side(self.ids.weight if index is None else self.ids(index), index)


def training_degrees(train: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Training interactions per user ``[n_users]`` and per item ``[n_items]``."""
    train = sp.csr_matrix(train)
    return np.diff(train.indptr), np.bincount(train.indices, minlength=train.shape[1])


def feature_tensors(features, owner: str, what: str):
    """Check that a feature-aware model got the features it needs; return them.

    Raises a :class:`RecbenchError` naming the model and the missing features when ``features`` is
    None (the dataset has none of that kind, or the config selected none).
    """
    if features is None:
        raise RecbenchError(f"model {owner} needs {what} features, but the dataset provides none: use a "
                            f"dataset with {what} side information (e.g. dataset=ml-100k) or turn the "
                            f"model's {what} features off")
    values = torch.as_tensor(features.values)
    if values.ndim != 2 or values.shape[1] == 0:
        raise RecbenchError(f"model {owner}: the selected {what} features are empty ({list(values.shape)}); "
                            f"check model.{what}_fields")
    return features


def feature_side_inputs(owner: str, use_features: bool, feature_inputs: Sequence[str], item_features,
                        user_features) -> tuple:
    """The ``(item_features, user_features)`` a model with a ``use_features`` switch should use.

    Both None when ``use_features`` is off (whatever was passed); otherwise the sides listed in
    ``feature_inputs``, each checked to be present (:func:`feature_tensors`).
    """
    if not use_features:
        return None, None
    sides = tuple(feature_inputs)
    require(len(sides) > 0 and set(sides) <= {"item", "user"},
            f"model.feature_inputs must list item and/or user, got {list(sides)}")
    item = feature_tensors(item_features, owner, "item") if "item" in sides else None
    user = feature_tensors(user_features, owner, "user") if "user" in sides else None
    return item, user


def ranking_loss(positive: Tensor, negative: Tensor, loss: str, n_items: int, margin: float = 1.0) -> Tensor:
    """The mean training loss from the scores of observed and sampled items.

    Args:
        positive: scores of the observed items, ``[B]``.
        negative: scores of the sampled unseen items, ``[B, K]``.
        loss: ``"bpr"`` (Rendle et al. 2009: mean of ``-log sigmoid(pos - neg)``), ``"warp"``
            or ``"sampled_softmax"`` (cross-entropy of the positive against itself and the
            negatives; uniform sampling needs no log-q correction).
        n_items: number of items, for WARP's rank estimate.
        margin: WARP's hinge margin.

    ``"warp"`` is a batched form of WARP (Weston et al., IJCAI 2011; LightFM's default): of the
    K sampled negatives, ``v`` violate the margin (``neg > pos - margin``); the positive's rank
    among the ``n_items - 1`` others is estimated as ``floor((n_items - 1) * v / K)``, and the
    hinge of the most violating negative is weighted by ``log(1 + rank)``. LightFM samples one
    negative at a time until one violates; drawing K at once gives the same estimate in tensors.
    """
    if loss == "bpr":
        return -F.logsigmoid(positive[:, None] - negative).mean()
    if loss == "warp":
        hinge = margin - positive[:, None] + negative  # [B, K]
        violations = (hinge > 0).sum(dim=1)  # [B]
        rank = torch.floor((n_items - 1) * violations / negative.shape[1])
        weight = torch.log1p(rank)  # 0 when nothing violates
        return (weight * hinge.amax(dim=1).clamp(min=0)).mean()
    logits = torch.cat([positive[:, None], negative], dim=1)  # [B, 1 + K]
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


def check_loss_name(loss: str) -> None:
    """Check ``model.loss`` against :data:`RANKING_LOSSES`."""
    require(loss in RANKING_LOSSES, f"model.loss must be one of {', '.join(RANKING_LOSSES)}, got {loss!r}")

