"""Sparse matrices kept as registered buffers, so fitted models move with ``.to(device)``.

A CSR matrix is stored as three buffers ``<name>_crow``, ``<name>_col``, ``<name>_values`` and
rebuilt as a torch sparse CSR tensor on the buffers' device when scoring. Their length depends
on the fitted data, so loading a ``state_dict`` resizes them first (:func:`resize_loaded_buffers`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.evaluation.ranking import dense_interactions
from recbench.linalg.scatter_product import sparse_product_dense

CSR_PARTS = ("crow", "col", "values")


def register_csr(module: nn.Module, name: str, matrix: sp.csr_matrix | None = None,
                 shape: tuple[int, int] | None = None) -> None:
    """Store ``matrix`` (or an empty matrix of ``shape``) as buffers of ``module``.

    The buffers stay on the device they are already on, so a refit after ``.to("cuda")`` keeps
    the model on the GPU.
    """
    if matrix is None:
        matrix = sp.csr_matrix(shape, dtype=np.float32)
    matrix = matrix.tocsr()
    matrix.sort_indices()  # cuSPARSE wants sorted column indices within each row
    old = getattr(module, f"{name}_values", None)
    device = old.device if old is not None else torch.device("cpu")
    parts = (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data.astype(np.float32))
    for part, array in zip(CSR_PARTS, parts):
        module.register_buffer(f"{name}_{part}", torch.from_numpy(array).to(device))


def csr_tensor(module: nn.Module, name: str, n_cols: int) -> Tensor:
    """The stored matrix as a torch sparse CSR tensor ``[n_rows, n_cols]`` on its device."""
    crow, col, values = (getattr(module, f"{name}_{part}") for part in CSR_PARTS)
    return torch.sparse_csr_tensor(crow, col, values, size=(len(crow) - 1, n_cols), check_invariants=False)


def resize_loaded_buffers(module: nn.Module, state_dict: dict, prefix: str, names: tuple[str, ...]) -> None:
    """Give ``module``'s data-sized buffers the shapes found in ``state_dict`` before loading it.

    Call from ``_load_from_state_dict``; ``names`` are the CSR matrix names.
    """
    for name in names:
        for part in CSR_PARTS:
            key = f"{prefix}{name}_{part}"
            buffer = getattr(module, f"{name}_{part}")
            if key in state_dict and state_dict[key].shape != buffer.shape:
                module.register_buffer(f"{name}_{part}", torch.empty_like(state_dict[key], device=buffer.device))


# Below this share of known items, a CPU product costs in proportion to the history's nonzeros,
# not to n_items per user. At ML-20M's size (0.4% of 26,744 items per user) that is 100-200 times
# less work; at ML-100K's (6%) the sparse product is still a little faster. On a GPU the dense
# product is fast and counting the nonzeros would wait for the device, so it is always used there.
SPARSE_HISTORY_DENSITY = 0.1


def _sparse_on_cpu(history: Tensor) -> bool:
    if history.device.type != "cpu":
        return False
    nnz = history._nnz() if history.is_sparse else int(torch.count_nonzero(history))
    return nnz < SPARSE_HISTORY_DENSITY * history.numel()


def history_times_dense(history: Tensor, weights: Tensor) -> Tensor:
    """``history @ weights`` ``[B, n_items]``: a known-items batch ``[B, n_items]`` (dense or sparse
    COO) times a dense matrix."""
    if _sparse_on_cpu(history):
        return torch.sparse.mm(history.to_sparse_csr(), weights)
    return dense_interactions(history) @ weights


def csr_from_parts(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A scipy CSR matrix over these arrays, without copying them.

    The parts are set on an empty matrix: scipy's constructor would copy int64 indices that fit
    into int32 ones, 16 M of them per batch for UserKNN's training matrix at ML-20M's size.
    """
    result = sp.csr_matrix(shape, dtype=data.dtype)
    result.data, result.indices, result.indptr = data, indices, indptr
    return result


def scipy_csr(matrix: Tensor) -> sp.csr_matrix:
    """A CPU torch sparse CSR tensor as a scipy CSR matrix sharing its memory."""
    return csr_from_parts(matrix.values().numpy(), matrix.col_indices().numpy(), matrix.crow_indices().numpy(),
                          tuple(matrix.shape))


def sparse_rows(history: Tensor) -> sp.csr_matrix:
    """A CPU known-items batch ``[B, n]``, dense or sparse COO, as a scipy CSR matrix.

    From a coalesced COO batch (what the evaluator holds, for models with ``sparse_history``)
    the entries are already in CSR order and only the row starts are counted: 0.3 ms for a 256 x
    26,744 batch at ML-20M's density against 21 ms from the dense batch. From a dense batch, one
    ``nonzero`` over the flat batch and a ``searchsorted`` for the row starts (half the time of
    ``to_sparse_csr``).
    """
    n_rows, n_cols = history.shape
    if history.is_sparse:
        history = history.coalesce()  # itself when already coalesced
        rows, cols = history.indices()
        indptr = torch.zeros(n_rows + 1, dtype=torch.int64)
        torch.cumsum(torch.bincount(rows, minlength=n_rows), dim=0, out=indptr[1:])
        return csr_from_parts(history.values().numpy(), cols.numpy(), indptr.numpy(), (n_rows, n_cols))
    flat = history.reshape(-1)
    index = flat.nonzero().squeeze(1)  # [nnz], ascending
    rows = torch.div(index, n_cols, rounding_mode="floor")
    return csr_from_parts(flat[index].numpy(), (index - rows * n_cols).numpy(),
                          torch.searchsorted(rows, torch.arange(n_rows + 1)).numpy(), (n_rows, n_cols))


class TransposeCache:
    """A sparse matrix's transpose as scipy CSR, made once and remade only when its sources change.

    The CPU product needs ``matrix.T`` in CSR form; a model scores batch after batch with the same
    matrix, and transposing ItemKNN's 2.7 M neighbours at ML-20M's size takes about 40 ms, a large
    part of a batch. The sources are the tensors the matrix is made of (the model's buffers): a
    refit or a loaded checkpoint replaces them or bumps their version counter. Holding them keeps
    their memory from being reused by another tensor while they are the key.
    """

    def __init__(self):
        self._sources: tuple[Tensor, ...] = ()
        self._versions: tuple[int, ...] = ()
        self._transposed: sp.csr_matrix | None = None

    def __call__(self, matrix: Tensor, sources: tuple[Tensor, ...]) -> sp.csr_matrix:
        versions = tuple(source._version for source in sources)
        same = len(sources) == len(self._sources) and all(a is b for a, b in zip(sources, self._sources))
        if self._transposed is None or not same or versions != self._versions:
            self._transposed = scipy_csr(matrix).T.tocsr()
            self._sources, self._versions = sources, versions
        return self._transposed


def history_times_sparse(matrix: Tensor, history: Tensor, transposed: sp.csr_matrix | None = None) -> Tensor:
    """``(matrix @ history.T).T`` ``[B, n_rows]`` for a sparse CSR ``matrix`` ``[n_rows, n_items]``.

    On the CPU each known item scatters its column of ``matrix`` into the user's dense row
    (:func:`~recbench.linalg.scatter_product.sparse_product_dense`), work in proportion to the
    pairs (neighbour, known item) that meet, as scipy's sparse-times-sparse product does (at
    ML-20M's size ItemKNN's stage takes the same time either way on two threads, and the kernel is
    faster on one); torch's sparse-times-dense product did ``nnz(matrix)`` work per user, about 4x
    slower there. On a GPU torch's product is fast and needs no host copy.

    Args:
        matrix: CSR ``[n_rows, n_items]``.
        history: the users' known items ``[B, n_items]``, dense or sparse COO.
        transposed: ``matrix.T`` as scipy CSR, when the caller keeps it (:class:`TransposeCache`).
    """
    if history.device.type != "cpu":
        return (matrix @ dense_interactions(history).T).T
    if transposed is None:
        transposed = scipy_csr(matrix).T.tocsr()  # [n_items, n_rows]: row j = the rows that hold item j
    return torch.from_numpy(sparse_product_dense(sparse_rows(history), transposed))
