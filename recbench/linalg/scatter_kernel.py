"""The compiled kernel of :mod:`recbench.linalg.scatter_product`, in its own module so that numba
(about half a second to import) is loaded only by runs that multiply this way. ``cache=True`` keeps
the machine code on disk beside this file, so later processes load it instead of compiling again.
"""

from __future__ import annotations

import numba


@numba.njit(parallel=True, cache=True, nogil=True)
def scatter_rows(a_indptr, a_indices, a_data, b_indptr, b_indices, b_data, out):  # pragma: no cover (compiled)
    """``out[r] += a[r, k] * b[k, :]`` for every nonzero of ``a``; rows of ``out`` in parallel."""
    for row in numba.prange(len(a_indptr) - 1):
        dense = out[row]
        for p in range(a_indptr[row], a_indptr[row + 1]):
            k, weight = a_indices[p], a_data[p]
            for q in range(b_indptr[k], b_indptr[k + 1]):
                dense[b_indices[q]] += weight * b_data[q]
