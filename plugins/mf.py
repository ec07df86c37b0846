"""Dot-product matrix factorisation trained on sampled negatives (BPR, BCE or sampled softmax)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require, require_positive

LOSSES = ("bpr", "bce", "sampled_softmax")


def pairwise_losses(positive: Tensor, negative: Tensor, loss: str) -> Tensor:
    """The mean training loss from positive and negative scores.

    Args:
        positive: scores of the observed items, ``[B]``.
        negative: scores of the sampled items, ``[B, n_neg]``.
        loss: ``"bpr"`` (Rendle et al. 2009: ``-log sigmoid(pos - neg)`` per pair), ``"bce"``
            (positive labelled 1, negatives 0) or ``"sampled_softmax"`` (cross-entropy of the
            positive against itself and the negatives; uniform sampling needs no log-q correction).
    """
    if loss == "bpr":
        return -F.logsigmoid(positive[:, None] - negative).mean()
    if loss == "bce":
        return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive)) * positive.numel()
                + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative), reduction="sum")
                ) / (positive.numel() + negative.numel())
    logits = torch.cat([positive[:, None], negative], dim=1)  # [B, 1 + n_neg]
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


def sparse_adam_settings(optimizer: Callable) -> dict:
    """``SparseAdam``'s arguments from the configured Adam partial (``lr``, ``betas``, ``eps``)."""
    func = getattr(optimizer, "func", None)
    keywords = dict(getattr(optimizer, "keywords", {}))
    require(func in (torch.optim.Adam, torch.optim.SparseAdam),
            "model.sparse_gradients trains with torch.optim.SparseAdam, built from model.optimizer's settings: "
            f"set model.optimizer._target_ to torch.optim.Adam (got {getattr(func, '__name__', optimizer)!r})")
    require(not keywords.pop("weight_decay", 0.0),
            "model.sparse_gradients: SparseAdam has no weight decay; set model.optimizer.weight_decay=0 "
            "and regularise with model.embedding_reg")
    unknown = sorted(set(keywords) - {"lr", "betas", "eps"})
    require(not unknown, f"model.sparse_gradients: SparseAdam takes lr, betas and eps, not {', '.join(unknown)}")
    return keywords


class MF(nn.Module):
    """Matrix factorisation: ``score(u, i) = p_u . q_i + b_i``.

    With the default ``loss="bpr"`` this is BPR-MF (Rendle et al., UAI 2009). The L2 penalty
    ``embedding_reg`` applies to the embeddings in the batch only (as in BPR's SGD), unlike the
    optimizer's ``weight_decay``, which would shrink every row at every step.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: size of the user and item factors.
        loss: ``bpr``, ``bce`` or ``sampled_softmax``.
        item_bias: learn a per-item bias ``b_i``.
        embedding_reg: L2 penalty on the batch's user, positive and negative item factors
            (summed squares divided by the batch size).
        num_negatives: sampled unseen items per training interaction.
        batch_size: training interactions per batch.
        optimizer: a partial that takes the parameters.
        sparse_gradients: gradients and Adam updates for the batch's rows only (``torch.optim.SparseAdam``,
            built from the optimizer's ``lr``, ``betas`` and ``eps``): a dense Adam step reads and
            writes every row of both tables, which at ML-20M's size (10.6 M parameters at d = 64)
            costs about 25 times the rest of a 1024-pair step. Rows a batch does not touch keep
            their moments ("lazy" Adam), so the training differs from dense Adam's. Needs
            ``optimizer.weight_decay`` 0 (``embedding_reg`` regularises the batch's rows) and no
            DDP over NCCL, which has no sparse all-reduce.
    """

    batch_kind = "interactions"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 64, loss: str = "bpr",
                 item_bias: bool = True, embedding_reg: float = 0.0, num_negatives: int = 1,
                 batch_size: int = 1024, optimizer: Callable | None = None, sparse_gradients: bool = False):
        super().__init__()
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        require(loss in LOSSES, f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        require(embedding_reg >= 0, f"model.embedding_reg must be >= 0, got {embedding_reg!r}")
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items = n_users, n_items
        self.loss_name, self.embedding_reg = loss, embedding_reg
        self.num_negatives, self.batch_size = num_negatives, batch_size
        self.optimizer = optimizer or functools.partial(torch.optim.Adam, lr=1e-3)
        self.sparse_gradients = sparse_gradients
        if sparse_gradients:
            self.sparse_optimizer_settings = sparse_adam_settings(self.optimizer)  # checked before any data is read
        self.user_embedding = nn.Embedding(n_users, embedding_dim, sparse=sparse_gradients)
        self.item_embedding = nn.Embedding(n_items, embedding_dim, sparse=sparse_gradients)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        self.item_bias = None
        if item_bias and sparse_gradients:
            # An embedding of width 1: indexing a parameter would give it a dense gradient.
            self.item_bias = nn.Embedding(n_items, 1, sparse=True)
            nn.init.zeros_(self.item_bias.weight)
        elif item_bias:
            self.item_bias = nn.Parameter(torch.zeros(n_items))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.sparse_gradients:
            return torch.optim.SparseAdam(self.parameters(), **self.sparse_optimizer_settings)
        return self.optimizer(self.parameters())

    def _bias(self, items: Tensor) -> Tensor:
        """The items' biases, in the shape of ``items``."""
        if isinstance(self.item_bias, nn.Embedding):
            return self.item_bias(items).squeeze(-1)
        return self.item_bias[items]

    def _all_biases(self) -> Tensor:
        """Every item's bias ``[n_items]``."""
        return self.item_bias.weight[:, 0] if isinstance(self.item_bias, nn.Embedding) else self.item_bias

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores of user-item pairs broadcast to a common shape ``S``: ``[*S]``."""
        scores = (self.user_embedding(users) * self.item_embedding(items)).sum(-1)
        return scores if self.item_bias is None else scores + self._bias(items)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        users = batch["users"]
        items = torch.cat([batch["items"][:, None], batch["negatives"]], dim=1)  # [B, 1 + n_neg]: positive first
        u = self.user_embedding(users)  # [B, d]
        v = self.item_embedding(items)  # [B, 1 + n_neg, d]: one lookup (and one backward) for all items
        # A multiply-and-sum over the positive and the negatives together (einsum would run B tiny
        # matrix products); the positive shares the negatives' lookup and its backward.
        scores = (u[:, None, :] * v).sum(-1)  # [B, 1 + n_neg]
        if self.item_bias is not None:
            scores = scores + self._bias(items)
        loss = pairwise_losses(scores[:, 0], scores[:, 1:], self.loss_name)
        if self.embedding_reg:
            loss = loss + self.embedding_reg * self._batch_squares(users, items, u, v) / len(users)
        return loss

    def _batch_squares(self, users: Tensor, items: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """The sum of squares of the batch's factor rows (each row as often as the batch has it)."""
        if self.sparse_gradients:
            return u.square().sum() + v.square().sum()  # gradients on the batch's rows only
        # The same sum from each row's squared norm: two passes over the small tables instead of
        # three over the [B, 1 + n_neg, d] batch (forward and backward).
        return (self.user_embedding.weight.square().sum(1)[users].sum()
                + self.item_embedding.weight.square().sum(1)[items].sum())

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        scores = self.user_embedding(users) @ self.item_embedding.weight.T  # [B, n_items]
        return scores if self.item_bias is None else scores + self._all_biases()
