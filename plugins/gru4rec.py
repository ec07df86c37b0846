"""GRU4Rec: a recurrent network reads the history in time order and predicts the next item."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.data.sequences import PAD, embedding_tokens, latest_positions
from recbench.errors import require, require_fraction, require_positive

LOSSES = ("ce", "sampled_softmax")


class GRU4Rec(nn.Module):
    """GRU4Rec (Hidasi, Karatzoglou, Baltrunas and Tikk, ICLR 2016).

    Item embeddings feed a GRU; the state after each item, projected to the embedding size,
    scores the next item by a dot product with the item embeddings. Loss ``ce`` is cross-entropy
    over all items; ``sampled_softmax`` is cross-entropy against the other targets of the batch
    (in-batch negatives, Hidasi and Czapp, RecSys 2023), cheaper when there are many items. With
    padding on the right a recurrent state never sees padding before a real item, so no packing
    is needed.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: size of the item embeddings.
        hidden_dim: size of the GRU state.
        num_layers: stacked GRU layers.
        dropout: dropout on the embeddings and the GRU outputs.
        max_len: the latest items of a history the model reads (and the training window).
        loss: ``ce`` or ``sampled_softmax``.
        batch_size: training windows per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "next_item"
    history_kind = "sequence"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 64, hidden_dim: int = 128,
                 num_layers: int = 1, dropout: float = 0.2, max_len: int = 50, loss: str = "ce",
                 batch_size: int = 128, optimizer: Callable | None = None):
        super().__init__()
        require_positive("model.max_len", max_len, integer=True)
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        require_positive("model.hidden_dim", hidden_dim, integer=True)
        require_positive("model.num_layers", num_layers, integer=True)
        require_fraction("model.dropout", dropout)
        require(loss in LOSSES, f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items, self.max_len = n_users, n_items, max_len
        self.loss_name, self.batch_size = loss, batch_size
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.item_embedding = nn.Embedding(n_items + 1, embedding_dim, padding_idx=n_items)
        self.gru = nn.GRU(embedding_dim, hidden_dim, num_layers, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.project = nn.Linear(hidden_dim, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[n_items].zero_()

    def forward(self, sequence: Tensor) -> Tensor:
        """Outputs ``[B, L, embedding_dim]`` after each item of ``sequence`` ``[B, L]``."""
        x = self.dropout(self.item_embedding(embedding_tokens(sequence, self.n_items)))
        states, _ = self.gru(x)  # [B, L, hidden_dim]
        return self.project(self.dropout(states))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        target = batch["target"]  # [B, L]
        real = target != PAD
        hidden = self(batch["sequence"])[real]  # [N, d]
        targets = target[real]  # [N]
        items = self.item_embedding.weight[:self.n_items]
        if self.loss_name == "ce":
            return F.cross_entropy(hidden @ items.T, targets)
        logits = hidden @ items[targets].T  # [N, N]: the batch's other targets are the negatives
        # Another position with the same target item is not a negative of this one.
        same = targets[:, None] == targets[None, :]
        logits = logits.masked_fill(same & ~torch.eye(len(targets), dtype=torch.bool, device=logits.device),
                                    float("-inf"))
        return F.cross_entropy(logits, torch.arange(len(targets), device=logits.device))

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        """Scores ``[B, n_items]`` from histories int64 ``[B, L]`` (time order, PAD on the right)."""
        hidden = self(history)  # [B, L, d]
        latest = hidden[torch.arange(len(history), device=history.device), latest_positions(history)]
        return latest @ self.item_embedding.weight[:self.n_items].T
