"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import RecbenchError, require
from recbench.linalg.sparse import history_times_dense


def available_memory_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (GPU memory, or Linux's MemAvailable); None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def gram_matrix(train: sp.csr_matrix, pairs_per_block: int = 1 << 22, dtype=np.float64) -> np.ndarray:
    """``X^T X`` as a dense ``dtype`` array, summed over blocks of users.

    One sparse product of all users would hold every co-occurring item pair (12 bytes each, up to
    ``n_items^2`` of them: 8.6 GB at 26,744 items) beside the dense result; a block's product
    holds at most ``pairs_per_block`` (4 M: about 100 MB with the scatter's copies): a block ends
    where its users' ``sum n_u^2`` would pass it.
    """
    train = train.tocsr()
    gram = np.zeros((train.shape[1], train.shape[1]), dtype=dtype)
    pairs = np.cumsum(np.diff(train.indptr).astype(np.int64) ** 2)  # [n_users]
    start = 0
    while start < train.shape[0]:
        done = pairs[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(pairs, done + pairs_per_block, side="right")))
        block = train[start:stop]
        product = (block.T @ block).tocoo()  # a user block's co-occurrences, each pair once
        flat = product.row.astype(np.int64) * gram.shape[1] + product.col
        gram.ravel()[flat] += product.data  # distinct positions, so += adds each once
        start = stop
    return gram


def spd_inverse_in_place(matrix: np.ndarray, block: int = 2048) -> np.ndarray:
    """The inverse of a symmetric positive definite float64 or float32 ``matrix``, in its own memory.

    LAPACK's Cholesky factorisation (``potrf``) and inverse from it (``potri``) overwrite the
    matrix, so no second ``n^2`` array is made (at 26,744 items each is 5.7 GB in float64). They
    fill one triangle; the other is copied from it a block at a time.

    They run on one BLAS thread: the OpenBLAS that scipy bundles (0.3.31 here) crashes the process
    (SIGSEGV) in its threaded ``potrf`` on large matrices: on 2 threads at float64 with 16,300
    items and at float32 with 26,744 (ML-20M's size), while one thread and smaller matrices are
    fine. It is a crash of the whole run, not an error, so no size can be trusted with threads.
    """
    from scipy.linalg import get_lapack_funcs
    from threadpoolctl import threadpool_limits

    # LAPACK works in place on Fortran-ordered memory; a symmetric matrix is its own transpose, so
    # a C-ordered one is passed as its (Fortran-ordered) transpose.
    column_major = matrix if matrix.flags.f_contiguous else matrix.T
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (column_major,))  # d- or s- by the dtype
    with threadpool_limits(limits=1, user_api="blas"):
        factor, info = potrf(column_major, lower=False, clean=False, overwrite_a=True)
        if info == 0:
            factor, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise RecbenchError(f"EASE: X^T X + l2 I is not positive definite (LAPACK info {info}); "
                            "raise model.l2")
    assert np.shares_memory(factor, matrix), "LAPACK did not work in place"
    # The upper triangle of `column_major` holds the inverse: the lower triangle of its transpose.
    full = column_major.T
    n = len(full)
    for start in range(0, n, block):
        stop = min(start + block, n)
        full[start:stop, stop:] = full[stop:, start:stop].T
        square = full[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        square[upper] = square.T[upper]
    return matrix


class EASE(nn.Module):
    """A dense item-item weight matrix with a zero diagonal, in closed form.

    ``B = argmin ||X - X B||^2 + l2 ||B||^2`` subject to ``diag(B) = 0`` has the solution
    ``P = (X^T X + l2 I)^-1``, ``B_ij = -P_ij / P_jj`` (``B_jj = 0``); ``score(u) = history[u] B``.
    The inverse is dense, ``n_items^2`` entries. In float64 (the default) it is computed in place on
    the CPU, beside the float32 weights: 12 bytes per entry. ``solve_dtype="float32"`` factors and
    inverts in float32 and turns the inverse into the weights in the same memory: 4 bytes per entry
    and half the arithmetic, for the large catalogues where the float64 matrix does not fit (at
    26,744 items: 2.9 GB instead of 8.6 GB). A warning says when the fit will not fit in memory.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        l2: the L2 penalty lambda (Steck's best values on MovieLens are in the hundreds).
        memory_limit_gb: memory the fit may use before warning; null reads what is free.
        solve_dtype: ``float64`` or ``float32``, the precision of the Gram matrix and its inverse.
    """

    folds_in_history = True  # scores from the history alone (recbench recommend --history)
    linear_in_history = True  # score = history @ W: exact explanations
    sparse_history = True  # score takes the history as sparse rows too (a sparse product)

    def __init__(self, n_users: int, n_items: int, l2: float = 500.0, memory_limit_gb: float | None = None,
                 solve_dtype: str = "float64"):
        super().__init__()
        require(l2 > 0, f"model.l2 must be > 0 (it keeps X^T X + l2 I invertible), got {l2!r}")
        require(solve_dtype in ("float64", "float32"),
                f"model.solve_dtype must be float64 or float32, got {solve_dtype!r}")
        self.n_users, self.n_items = n_users, n_items
        self.l2, self.memory_limit_gb, self.solve_dtype = l2, memory_limit_gb, solve_dtype
        # B [n_items, n_items], made by fit or sized by a loaded checkpoint: a zero-filled placeholder
        # would hold n_items^2 floats for nothing (2.9 GB at 26,744 items) while the fit runs.
        self.register_buffer("weights", torch.zeros(0, 0))

    def fit(self, train: sp.csr_matrix) -> None:
        """Solve for ``B`` from ``train`` ``[n_users, n_items]`` on the model's device."""
        device = self.weights.device
        single = self.solve_dtype == "float32"
        # On the CPU the Gram matrix is inverted in place (LAPACK): in float64 next to the float32
        # weights, in float32 it becomes them. On a GPU torch needs the Gram matrix, its factor and
        # the inverse at once.
        size = 4 if single else 8
        needed = ((size if single else size + 4) if device.type == "cpu" else 3 * size) * self.n_items ** 2
        limit = (self.memory_limit_gb * 1024 ** 3 if self.memory_limit_gb is not None
                 else available_memory_bytes(device))
        if limit is not None and needed > limit:
            warnings.warn(f"EASE needs about {needed / 1024 ** 3:.1f} GiB for {self.n_items} items but "
                          f"{limit / 1024 ** 3:.1f} GiB is available: filter rare items (dataset.preprocess) "
                          "or use a sparse model (slim, itemknn)", ResourceWarning, stacklevel=2)
        gram = gram_matrix(train, dtype=np.float32 if single else np.float64)  # [n_items, n_items]
        gram[np.diag_indices_from(gram)] += self.l2
        if device.type == "cpu":
            inverse = spd_inverse_in_place(gram)
            if single:
                self.weights = torch.from_numpy(self._weights_in_place(inverse))  # no second n^2 array
            else:
                self._weights_from_inverse(inverse)
            return
        gram = torch.from_numpy(gram).to(device)
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(gram))  # P [n_items, n_items]; gram is SPD
        weights = inverse / (-inverse.diagonal())  # column j divided by -P_jj
        weights.diagonal().zero_()
        self.weights = weights.float()

    def _weights_from_inverse(self, inverse: np.ndarray, block: int = 2048) -> None:
        """``B_ij = -P_ij / P_jj`` with a zero diagonal, into new float32 weights a block of rows at a time."""
        scale = -1.0 / np.diag(inverse)
        weights = torch.empty(self.n_items, self.n_items)
        for start in range(0, self.n_items, block):
            rows = inverse[start:start + block] * scale  # [block, n_items] float64, the only copy
            rows[np.arange(len(rows)), np.arange(start, start + len(rows))] = 0.0
            weights[start:start + block] = torch.from_numpy(rows)
        self.weights = weights

    @staticmethod
    def _weights_in_place(inverse: np.ndarray, block: int = 2048) -> np.ndarray:
        """``B_ij = -P_ij / P_jj`` with a zero diagonal, written over ``inverse`` a block of rows at a time."""
        scale = (-1.0 / np.diag(inverse)).astype(inverse.dtype)  # a copy: the diagonal is overwritten
        for start in range(0, len(inverse), block):
            inverse[start:start + block] *= scale
        np.fill_diagonal(inverse, 0.0)
        return inverse

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # An unfitted model holds a placeholder: give it the fitted shape, so that only a checkpoint of
        # another shape fails load_state_dict's size check.
        fitted = (self.n_items, self.n_items)
        if self.weights.shape != fitted and state_dict.get(f"{prefix}weights", torch.empty(0)).shape == fitted:
            self.register_buffer("weights", torch.empty(fitted, device=self.weights.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return history_times_dense(history, self.weights)  # [B, n_items]
