"""The sparse x sparse -> dense scatter kernel against scipy's product."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recbench.linalg.scatter_product import sparse_product_dense


def random_csr(rows: int, cols: int, density: float, seed: int, index_dtype) -> sp.csr_matrix:
    matrix = sp.random(rows, cols, density=density, format="csr", random_state=seed, dtype=np.float32)
    matrix.data = np.random.default_rng(seed).integers(-3, 4, matrix.nnz).astype(np.float32)  # exact sums
    matrix.indptr, matrix.indices = matrix.indptr.astype(index_dtype), matrix.indices.astype(index_dtype)
    return matrix


def without_row(matrix: sp.csr_matrix, row: int) -> sp.csr_matrix:
    """``matrix`` with ``row`` emptied, its index dtype kept."""
    keep = np.ones(matrix.nnz, dtype=bool)
    keep[matrix.indptr[row]:matrix.indptr[row + 1]] = False
    counts = np.diff(matrix.indptr)
    counts[row] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(matrix.indptr.dtype)
    result = sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)
    result.indptr, result.indices = indptr, matrix.indices[keep]  # scipy may narrow them to int32
    return result


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("threads", [1, 2])
def test_scatter_product_equals_scipy_product(index_dtype, threads):
    a = without_row(random_csr(53, 40, 0.2, 0, index_dtype), 7)  # an empty row
    b = without_row(random_csr(40, 71, 0.3, 1, index_dtype), 3)  # the a entries that point at it add nothing
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # the kernel's pool follows torch's thread count
    try:
        product = sparse_product_dense(a, b)
    finally:
        torch.set_num_threads(previous)
    assert a.indices.dtype == b.indptr.dtype == index_dtype
    assert product.dtype == np.float32 and product.shape == (53, 71)
    np.testing.assert_array_equal(product, (a @ b).toarray())  # small integers: exact in any order
    assert not product[7].any()


def test_scatter_product_reads_unsorted_rows_and_float64_values():
    # UserKNN passes top-k neighbours in score order, not column order.
    a = sp.csr_matrix((np.array([0.5, 2.0, 1.0]), np.array([2, 0, 1]), np.array([0, 2, 3])), shape=(2, 3))
    assert not a.has_sorted_indices
    b = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 3, 0], [4, 0, 0]]))
    np.testing.assert_array_equal(sparse_product_dense(a, b), a.toarray() @ b.toarray())


def test_scatter_product_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"cannot multiply \(2, 3\) by \(4, 5\)"):
        sparse_product_dense(sp.csr_matrix((2, 3)), sp.csr_matrix((4, 5)))


def test_scipy_view_of_a_torch_csr_shares_its_memory():
    # UserKNN hands its 16 M-entry training matrix to the kernel every batch: no copy, no int32 narrowing.
    from recbench.linalg.sparse import scipy_csr

    dense = torch.tensor([[1.0, 0, 0, 2.0], [0, 0, 3.0, 0]])
    matrix = dense.to_sparse_csr()
    view = scipy_csr(matrix)
    np.testing.assert_array_equal(view.toarray(), dense.numpy())
    for part, tensor in ((view.data, matrix.values()), (view.indices, matrix.col_indices()),
                         (view.indptr, matrix.crow_indices())):
        assert np.shares_memory(part, tensor.numpy()) and part.dtype == tensor.numpy().dtype


def assert_same_csr(rows, expected):
    np.testing.assert_array_equal(rows.indptr, expected.indptr)
    np.testing.assert_array_equal(rows.indices, expected.indices)
    np.testing.assert_array_equal(rows.data, expected.data)
    assert rows.shape == expected.shape


def test_sparse_rows_of_a_dense_batch_equal_scipy_rows():
    from recbench.linalg.sparse import sparse_rows

    dense = np.zeros((5, 7), dtype=np.float32)
    dense[0, [1, 6]] = [1.0, 2.5]
    dense[3, 0] = 4.0  # rows 1, 2 and 4 stay empty
    dense[4, 6] = -1.0
    assert_same_csr(sparse_rows(torch.from_numpy(dense)), sp.csr_matrix(dense))


def test_sparse_rows_of_a_coo_batch_equal_those_of_the_dense_batch():
    from recbench.linalg.sparse import sparse_rows

    dense = np.zeros((5, 7), dtype=np.float32)
    dense[0, [6, 1]] = [2.5, 1.0]
    dense[3, 0] = 4.0  # rows 1, 2 and 4 stay empty; the last row is empty too
    unsorted = torch.sparse_coo_tensor(torch.tensor([[3, 0, 0], [0, 6, 1]]), torch.tensor([4.0, 2.5, 1.0]), (5, 7))
    for batch in (torch.from_numpy(dense).to_sparse(), unsorted):
        assert_same_csr(sparse_rows(batch), sp.csr_matrix(dense))


def test_row_stats_of_a_coo_batch_equal_those_of_the_dense_batch():
    from recbench.linalg.similarity import dense_stats

    dense = torch.tensor([[0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    total, squares = dense_stats(dense.to_sparse())
    assert total.tolist() == [5.0, 0.0, 1.0] and squares.tolist() == [13.0, 0.0, 1.0]
