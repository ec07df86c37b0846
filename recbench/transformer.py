"""A transformer encoder over item sequences, shared by the self-attentive sequence plugins.

Sequences are left-aligned with padding on the right (:mod:`recbench.data.sequences`). Attention
runs through ``torch.nn.functional.scaled_dot_product_attention``, which picks a fused kernel
where the device has one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbench.errors import require, require_fraction, require_positive


class SelfAttention(nn.Module):
    """Multi-head self-attention with a causal or a padding mask."""

    def __init__(self, embedding_dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads, self.dropout = num_heads, dropout
        self.qkv = nn.Linear(embedding_dim, 3 * embedding_dim)
        self.out = nn.Linear(embedding_dim, embedding_dim)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """``x`` ``[B, L, d]``; ``mask`` bool ``[B, 1, L, L]`` (True = may attend) or None for causal."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, dim // self.num_heads).unbind(dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # each [B, heads, L, d / heads]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out(out.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(norm(x))``, then ``x + feed_forward(norm(x))``."""

    def __init__(self, embedding_dim: int, num_heads: int, dropout: float, activation: str):
        super().__init__()
        self.attention_norm = nn.LayerNorm(embedding_dim)
        self.attention = SelfAttention(embedding_dim, num_heads, dropout)
        self.feed_forward_norm = nn.LayerNorm(embedding_dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(embedding_dim, 4 * embedding_dim), nn.GELU() if activation == "gelu" else nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4 * embedding_dim, embedding_dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), mask))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class SequenceEncoder(nn.Module):
    """Item embeddings plus learned positions, then transformer blocks: ``[B, L]`` -> ``[B, L, d]``.

    Token ids are ``0..n_items-1`` for items, ``n_items`` for padding and, with
    ``extra_tokens``, ``n_items + 1...`` for special tokens such as BERT4Rec's mask. Position
    ``t`` is the ``t``-th item of the (left-aligned) sequence.

    Args:
        n_items: number of items.
        embedding_dim: model width ``d`` (divisible by ``num_heads``).
        max_len: longest sequence (number of learned positions).
        num_layers: transformer blocks.
        num_heads: attention heads.
        dropout: dropout on the embeddings, attention weights and block outputs.
        causal: each position attends to itself and earlier ones (SASRec); else to every real
            position (BERT4Rec).
        extra_tokens: special tokens after the padding token.
        activation: ``relu`` or ``gelu`` in the feed-forward layers.
    """

    def __init__(self, n_items: int, embedding_dim: int, max_len: int, num_layers: int, num_heads: int,
                 dropout: float, causal: bool, extra_tokens: int = 0, activation: str = "gelu"):
        super().__init__()
        # The plugins' hyperparameters, checked here for every model built on this encoder.
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        require_positive("model.num_heads", num_heads, integer=True)
        require(embedding_dim % num_heads == 0,
                f"model.embedding_dim ({embedding_dim}) must be divisible by model.num_heads ({num_heads})")
        require_positive("model.num_layers", num_layers, integer=True)
        require_fraction("model.dropout", dropout)
        self.n_items, self.causal = n_items, causal
        self.item_embedding = nn.Embedding(n_items + 1 + extra_tokens, embedding_dim, padding_idx=n_items)
        self.position_embedding = nn.Embedding(max_len, embedding_dim)
        self.blocks = nn.ModuleList(TransformerBlock(embedding_dim, num_heads, dropout, activation)
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(embedding_dim)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[n_items].zero_()

    @property
    def item_weights(self) -> Tensor:
        """The item rows of the embedding table ``[n_items, d]``, which also score the outputs."""
        return self.item_embedding.weight[:self.n_items]

    def forward(self, tokens: Tensor, real: Tensor) -> Tensor:
        """Encode ``tokens`` int64 ``[B, L]``; ``real`` bool ``[B, L]`` marks non-padding positions.

        Returns:
            ``[B, L, d]``; outputs at padding positions are finite but meaningless.
        """
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        x = self.item_embedding(tokens) * math.sqrt(self.item_embedding.embedding_dim)
        x = self.dropout(x + self.position_embedding(positions))  # [B, L, d]
        mask = None
        if not self.causal:
            # A real position attends to real ones; a padding position attends to everything, so
            # that no row of the softmax is empty (an empty one would be NaN and spread).
            mask = (real[:, None, :] | ~real[:, :, None])[:, None]  # [B, 1, L, L]
        for block in self.blocks:
            x = block(x, mask) * real[..., None]  # padding stays zero: it cannot leak into later layers
        return self.norm(x)
