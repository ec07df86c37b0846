"""SASRec: causal self-attention over a user's items in time order."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.data.sequences import PAD, embedding_tokens, latest_positions
from recbench.errors import require, require_positive
from recbench.transformer import SequenceEncoder

LOSSES = ("bce", "ce")


class SASRec(nn.Module):
    """SASRec (Kang and McAuley, ICDM 2018): each position attends to itself and earlier items.

    Every prefix of a training window predicts its next item at once. Loss ``bce`` is the
    original: the next item against one uniformly sampled item the user never had, labelled 1
    and 0. Loss ``ce`` is cross-entropy over all items (Klenitskiy and Vasilev, RecSys 2023), which
    usually trains faster and better. Items are scored by the dot product of the latest position's
    output with the (shared) item embeddings.

    Args:
        n_users: number of users (given by recbench; SASRec has no user embedding).
        n_items: number of items (given by recbench).
        embedding_dim: model width (divisible by ``num_heads``).
        num_layers: transformer blocks.
        num_heads: attention heads.
        dropout: dropout probability.
        max_len: the latest items of a history the model reads (and the training window).
        loss: ``ce`` or ``bce``.
        num_negatives: sampled negatives per position for ``bce``.
        batch_size: training windows per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "next_item"
    history_kind = "sequence"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 64, num_layers: int = 2,
                 num_heads: int = 1, dropout: float = 0.2, max_len: int = 200, loss: str = "ce",
                 num_negatives: int = 1, batch_size: int = 128, optimizer: Callable | None = None):
        super().__init__()
        require_positive("model.max_len", max_len, integer=True)
        require(loss in LOSSES, f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        require_positive("model.num_negatives", num_negatives, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items, self.max_len = n_users, n_items, max_len
        self.loss_name, self.batch_size = loss, batch_size
        self.num_negatives = num_negatives if loss == "bce" else 0  # ce needs no sampled items
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.encoder = SequenceEncoder(n_items, embedding_dim, max_len, num_layers, num_heads, dropout,
                                       causal=True, activation="relu")

    def forward(self, sequence: Tensor) -> Tensor:
        """Outputs ``[B, L, d]`` of item sequences ``[B, L]`` (PAD on the right)."""
        return self.encoder(embedding_tokens(sequence, self.n_items), sequence != PAD)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        sequence, target = batch["sequence"], batch["target"]  # [B, L] each
        real = target != PAD
        hidden = self(sequence)[real]  # [N, d] the outputs that have a next item
        items = self.encoder.item_weights
        if self.loss_name == "ce":
            return F.cross_entropy(hidden @ items.T, target[real])  # logits [N, n_items]
        positive = (hidden * items[target[real]]).sum(-1)  # [N]
        negative = torch.einsum("nd,nkd->nk", hidden, items[batch["negatives"][real]])  # [N, n_neg]
        return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive), reduction="sum")
                + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative), reduction="sum")
                ) / len(positive)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        """Scores ``[B, n_items]`` from histories int64 ``[B, L]`` (time order, PAD on the right)."""
        hidden = self(history)  # [B, L, d]
        latest = hidden[torch.arange(len(history), device=history.device), latest_positions(history)]
        return latest @ self.encoder.item_weights.T  # [B, n_items]
