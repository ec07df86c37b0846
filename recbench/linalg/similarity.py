"""Neighbourhood similarities computed from sparse dot products, never pair by pair.

Every similarity here is a function of the dot products between two sets of vectors and of
per-vector statistics (sum, sum of squares), so a block of similarities costs one sparse matrix
product. The vectors are rows: items (columns of the user-item matrix) for ItemKNN, users for
UserKNN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recbench.errors import require
from recbench.linalg.sparse import TransposeCache, history_times_sparse

SIMILARITIES = ("cosine", "pearson", "jaccard", "asymmetric", "tversky")


@dataclass(frozen=True)
class Similarity:
    """One similarity measure and its hyperparameters.

    Attributes:
        kind: ``cosine``; ``pearson`` (cosine of the vectors centred on their mean over all
            ``n_features`` entries, zeros included: centring on the non-zero entries only would
            make every binary vector zero); ``jaccard`` (Tanimoto: ``a.b / (|a|^2 + |b|^2 - a.b)``,
            the Jaccard index on binary data); ``asymmetric`` cosine (Aiolli 2013:
            ``a.b / (|a|^(2 alpha) |b|^(2 (1 - alpha)))``); ``tversky`` (Tversky 1977:
            ``a.b / (a.b + alpha (|a|^2 - a.b) + beta (|b|^2 - a.b))``).
        shrink: added to the denominator, which damps similarities supported by few co-occurrences.
        normalize: for cosine, pearson and asymmetric: divide by the norms; false keeps the raw
            (centred) dot products. Jaccard and Tversky are always normalised.
        alpha: the asymmetric cosine's and Tversky's alpha.
        beta: Tversky's beta.
    """

    kind: str = "cosine"
    shrink: float = 0.0
    normalize: bool = True
    alpha: float = 0.5
    beta: float = 1.0

    def __post_init__(self):
        require(self.kind in SIMILARITIES,
                f"model.similarity must be one of {', '.join(SIMILARITIES)}, got {self.kind!r}")
        require(self.shrink >= 0, f"model.shrink must be >= 0, got {self.shrink!r}")
        require(self.alpha >= 0 and self.beta >= 0,
                f"model.alpha and model.beta must be >= 0, got {self.alpha!r} and {self.beta!r}")

    def __call__(self, dot: Tensor, rows: tuple[Tensor, Tensor], cols: tuple[Tensor, Tensor],
                 n_features: int) -> Tensor:
        """Similarities from dot products.

        Args:
            dot: ``[R, C]`` dot products between R row vectors and C column vectors.
            rows: ``(sum, sum of squares)`` of each row vector, each ``[R]``.
            cols: ``(sum, sum of squares)`` of each column vector, each ``[C]``.
            n_features: length of every vector (the pearson mean divides by it).

        Returns:
            ``[R, C]`` similarities.
        """
        (row_sum, row_sq), (col_sum, col_sq) = rows, cols
        row_sq, col_sq = row_sq[:, None], col_sq[None, :]
        if self.kind == "pearson":
            # Centred dot product and norms, from the raw ones: (a - m_a).(b - m_b) = a.b - n m_a m_b.
            dot = dot - row_sum[:, None] * col_sum[None, :] / n_features
            row_sq = (row_sq - row_sum[:, None] ** 2 / n_features).clamp(min=0)
            col_sq = (col_sq - col_sum[None, :] ** 2 / n_features).clamp(min=0)
        if self.kind in ("cosine", "pearson", "asymmetric"):
            if not self.normalize:
                return dot
            row_power = self.alpha if self.kind == "asymmetric" else 0.5
            # One pass for the [R, C] denominator and one for the quotient, written into it: these
            # blocks are a batch of users x every training user for UserKNN.
            denominator = torch.addcmul(torch.tensor(self.shrink + 1e-9, dtype=dot.dtype, device=dot.device),
                                        row_sq.pow(row_power), col_sq.pow(1 - row_power))
            return torch.div(dot, denominator, out=denominator)
        elif self.kind == "jaccard":
            denominator = row_sq + col_sq - dot
        else:  # tversky
            denominator = dot + self.alpha * (row_sq - dot) + self.beta * (col_sq - dot)
        # The epsilon keeps 0/0 (a vector without interactions) at similarity 0.
        return dot / (denominator + self.shrink + 1e-9)


def vector_stats(matrix: sp.csr_matrix) -> tuple[Tensor, Tensor]:
    """``(sum, sum of squares)`` of each row of a CSR matrix, float32 ``[n_rows]`` each."""
    total = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
    squares = np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float32).ravel()
    return torch.from_numpy(total), torch.from_numpy(squares)


def dense_stats(vectors: Tensor) -> tuple[Tensor, Tensor]:
    """``(sum, sum of squares)`` of each row of a ``[R, n_features]`` tensor, dense or sparse COO."""
    if vectors.is_sparse:
        vectors = vectors.coalesce()  # itself when already coalesced
        rows, values = vectors.indices()[0], vectors.values()
        zeros = values.new_zeros(vectors.shape[0])
        return zeros.index_add(0, rows, values), zeros.index_add(0, rows, values.square())
    return vectors.sum(dim=1), vectors.square().sum(dim=1)


def top_k_neighbours(vectors: sp.csr_matrix, similarity: Similarity, k: int,
                     block_size: int = 1024) -> tuple[Tensor, Tensor]:
    """Each vector's ``k`` most similar other vectors, computed a block of rows at a time.

    Memory stays at ``block_size x n_rows`` similarities however many vectors there are.

    Args:
        vectors: CSR ``[n_rows, n_features]``, one vector per row.
        similarity: the measure.
        k: neighbours kept per row (at most ``n_rows - 1``; a row never neighbours itself).
        block_size: rows whose similarities are held at once.

    Returns:
        ``(indices, values)``, int64 and float32 ``[n_rows, k]``: row ``r``'s neighbours, most
        similar first.
    """
    vectors = vectors.astype(np.float32).tocsr()
    stats = vector_stats(vectors)
    transposed = vectors.T.tocsr()
    n_rows = vectors.shape[0]
    indices, values = [], []
    for start in range(0, n_rows, block_size):
        stop = min(start + block_size, n_rows)
        dot = torch.from_numpy((vectors[start:stop] @ transposed).toarray())  # [b, n_rows]
        sims = similarity(dot, (stats[0][start:stop], stats[1][start:stop]), stats, vectors.shape[1])
        sims[torch.arange(stop - start), torch.arange(start, stop)] = float("-inf")
        top = torch.topk(sims, k, dim=1)
        indices.append(top.indices)
        values.append(top.values.nan_to_num(neginf=0.0))  # -inf only when there is no other row
    return torch.cat(indices), torch.cat(values)


def top_k_neighbours_dense(vectors: Tensor, similarity: Similarity, k: int,
                           block_size: int = 1024) -> tuple[Tensor, Tensor]:
    """:func:`top_k_neighbours` for dense vectors (embeddings, feature matrices), by dense products.

    Args:
        vectors: float ``[n_rows, n_features]``, one vector per row.
        similarity: the measure.
        k: neighbours kept per row (at most ``n_rows - 1``).
        block_size: rows whose similarities are held at once.

    Returns:
        ``(indices, values)``, int64 and float32 ``[n_rows, k]``, most similar first.
    """
    vectors = vectors.float()
    stats = dense_stats(vectors)
    n_rows = vectors.shape[0]
    indices, values = [], []
    for start in range(0, n_rows, block_size):
        stop = min(start + block_size, n_rows)
        dot = vectors[start:stop] @ vectors.T  # [b, n_rows]
        sims = similarity(dot, (stats[0][start:stop], stats[1][start:stop]), stats, vectors.shape[1])
        sims[torch.arange(stop - start), torch.arange(start, stop)] = float("-inf")
        top = torch.topk(sims, k, dim=1)
        indices.append(top.indices)
        values.append(top.values.nan_to_num(neginf=0.0))
    return torch.cat(indices), torch.cat(values)


def store_neighbours(neighbours: Tensor, weights: Tensor, indices: Tensor, values: Tensor) -> None:
    """Copy each item's top-k neighbours ``[n_items, k]`` into the buffers, in ascending index order.

    The order is the one a CSR row needs, so :func:`score_from_neighbours` can use the buffers as is.
    """
    order = indices.sort(dim=1)
    neighbours.copy_(order.values)
    weights.copy_(values.gather(1, order.indices))


def score_from_neighbours(neighbours: Tensor, weights: Tensor, history: Tensor,
                          cache: TransposeCache | None = None) -> Tensor:
    """Item-based scores ``history @ W.T`` ``[B, n_items]``: row i of W holds item i's neighbours.

    Args:
        neighbours: neighbour indices ``[n_items, k]``, ascending in each row.
        weights: their similarities ``[n_items, k]``.
        history: the users' known items ``[B, n_items]``.
        cache: the model's cache of ``W.T`` for the CPU product (made per call without one).
    """
    n_items, k = neighbours.shape
    crow = torch.arange(0, n_items * k + 1, k, device=history.device)
    matrix = torch.sparse_csr_tensor(crow, neighbours.reshape(-1), weights.reshape(-1),
                                     size=(n_items, n_items), check_invariants=False)
    transposed = cache(matrix, (neighbours, weights)) if cache is not None and history.device.type == "cpu" else None
    return history_times_sparse(matrix, history, transposed)  # [B, n_items]
