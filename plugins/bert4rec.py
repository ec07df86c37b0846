"""BERT4Rec: bidirectional self-attention trained to fill in masked items of the history."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.data.sequences import PAD, embedding_tokens
from recbench.errors import require, require_positive
from recbench.transformer import SequenceEncoder


class BERT4Rec(nn.Module):
    """BERT4Rec (Sun, Liu, Wu, Pei, Lin, Ou and Jiang, CIKM 2019).

    Training masks random items of each window (cloze task, at least one per window) and
    predicts them from both sides with cross-entropy over all items. Scoring appends the mask
    token after the latest item (dropping the oldest item when the history fills ``max_len``)
    and ranks by the prediction there.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: model width (divisible by ``num_heads``).
        num_layers: transformer blocks.
        num_heads: attention heads.
        dropout: dropout probability.
        max_len: positions the model reads, the mask token included.
        mask_prob: probability that a training item is masked.
        mask_last_prob: probability that a training window instead has only its latest item
            masked, the task scoring poses (0: never).
        window_stride: items between the ends of a user's training windows; below ``max_len``
            the windows overlap and an epoch holds more of them (None: ``max_len``; 1: every
            prefix, as RecBole trains).
        batch_size: training windows per batch.
        optimizer: a partial that takes the parameters.
    """

    batch_kind = "masked_item"
    history_kind = "sequence"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 64, num_layers: int = 2,
                 num_heads: int = 2, dropout: float = 0.2, max_len: int = 200, mask_prob: float = 0.2,
                 mask_last_prob: float = 0.0, window_stride: int | None = None, batch_size: int = 128,
                 optimizer: Callable | None = None):
        super().__init__()
        require_positive("model.max_len", max_len, integer=True)
        require(max_len >= 2, f"model.max_len must be at least 2 for BERT4Rec (one item and the mask "
                              f"token), got {max_len}")
        require(0 < mask_prob < 1, f"model.mask_prob must be in (0, 1), got {mask_prob!r}")
        require(0 <= mask_last_prob <= 1, f"model.mask_last_prob must be in [0, 1], got {mask_last_prob!r}")
        if window_stride is not None:
            require_positive("model.window_stride", window_stride, integer=True)
        require_positive("model.batch_size", batch_size, integer=True)
        self.n_users, self.n_items, self.max_len = n_users, n_items, max_len
        self.mask_prob, self.mask_last_prob, self.batch_size = mask_prob, mask_last_prob, batch_size
        self.window_stride = window_stride
        self.mask_token = n_items + 1  # after the padding token n_items
        self.optimizer = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.encoder = SequenceEncoder(n_items, embedding_dim, max_len, num_layers, num_heads, dropout,
                                       causal=False, extra_tokens=1, activation="gelu")
        self.head = nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.GELU(), nn.LayerNorm(embedding_dim))
        self.output_bias = nn.Parameter(torch.zeros(n_items))

    def _logits(self, hidden: Tensor) -> Tensor:
        """Item scores ``[N, n_items]`` of encoder outputs ``[N, d]``."""
        return self.head(hidden) @ self.encoder.item_weights.T + self.output_bias

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        sequence, masked = batch["sequence"], batch["masked"]  # [B, L] each
        tokens = embedding_tokens(sequence, self.n_items).masked_fill(masked, self.mask_token)
        hidden = self.encoder(tokens, sequence != PAD)[masked]  # [N, d]
        return F.cross_entropy(self._logits(hidden), sequence[masked])

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        """Scores ``[B, n_items]`` from histories int64 ``[B, L]`` (time order, PAD on the right)."""
        rows = torch.arange(len(history), device=history.device)
        length = (history != PAD).sum(dim=1)  # [B]
        tokens = embedding_tokens(torch.cat([history, history.new_full((len(history), 1), PAD)], dim=1),
                                  self.n_items)  # [B, L + 1]
        tokens[rows, length] = self.mask_token
        # Keep the latest max_len tokens (the mask token is the latest), left-aligned.
        drop = (length + 1 - self.max_len).clamp(min=0)  # [B]
        width = min(tokens.shape[1], self.max_len)
        index = torch.arange(width, device=history.device)[None, :] + drop[:, None]  # [B, width], <= L
        tokens = tokens.gather(1, index)
        hidden = self.encoder(tokens, tokens != self.n_items)  # [B, width, d]
        return self._logits(hidden[rows, length - drop])
