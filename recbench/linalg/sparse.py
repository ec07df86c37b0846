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


def rows_times_csr(rows: Tensor, crow: Tensor, col: Tensor, values: Tensor, n_cols: int,
                   chunk_entries: int = 1 << 24) -> Tensor:
    """``rows @ M`` for mostly-zero dense ``rows`` and a CSR ``M``, touching only the nonzeros.

    Each nonzero ``rows[b, j]`` adds ``rows[b, j] * M[j, :]`` to output row ``b``: the cost is the
    nonzeros of ``rows`` times the lengths of the ``M`` rows they select, never ``B x n x n_cols``
    as a sparse-times-dense product of the transposes would be. Contributions are added in chunks
    of at most ``chunk_entries`` (bounded memory).

    Args:
        rows: ``[B, n]`` dense, mostly zeros (a batch of user histories or neighbour weights).
        crow, col, values: ``M``'s CSR parts, ``[n + 1]``, ``[nnz]``, ``[nnz]``, on ``rows``' device.
        n_cols: ``M``'s number of columns.

    Returns:
        ``[B, n_cols]`` float32.
    """
    device = rows.device
    batch_row, inner = rows.nonzero().unbind(1)  # [p] each: the nonzeros of rows
    weight = rows[batch_row, inner].float()
    starts = crow[inner]
    counts = crow[inner + 1] - starts  # [p]: entries of M each nonzero brings
    out = torch.zeros(rows.shape[0], n_cols, device=device)
    ends = counts.cumsum(0)  # [p]
    first = 0
    while first < len(ends):
        # The next chunk: consecutive nonzeros whose entries fit in chunk_entries (one at least).
        done = int(ends[first - 1]) if first else 0
        last = max(int(torch.searchsorted(ends, done + chunk_entries, right=True)), first + 1)
        part_counts = counts[first:last]
        pair = torch.repeat_interleave(torch.arange(first, last, device=device), part_counts)  # [e]
        offset = torch.arange(len(pair), device=device) - torch.repeat_interleave(
            part_counts.cumsum(0) - part_counts, part_counts)
        position = starts[pair] + offset  # [e] index into col/values
        out.index_put_((batch_row[pair], col[position]), values[position] * weight[pair], accumulate=True)
        first = last
    return out
