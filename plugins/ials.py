"""Implicit alternating least squares (Hu, Koren and Volinsky, ICDM 2008), as revisited by
Rendle, Krichene, Zhang and Koren (RecSys 2022)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recbench.errors import require, require_positive


def sparse_rows(matrix: sp.csr_matrix, device: torch.device) -> Tensor:
    """A binary scipy CSR matrix as a torch sparse CSR tensor on ``device``."""
    return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr.astype(np.int64)),
                                   torch.from_numpy(matrix.indices.astype(np.int64)),
                                   torch.ones(matrix.nnz), size=matrix.shape, check_invariants=False).to(device)


def solve_side(matrix: sp.csr_matrix, fixed: Tensor, current: Tensor, unobserved_weight: float, l2: float,
               reg_exponent: float, cg_steps: int, chunk_entries: int = 2 ** 25) -> Tensor:
    """One half-step of iALS: the least-squares vectors of every row given the other side.

    Row ``r`` (a user, or an item when ``matrix`` is transposed) solves
    ``A_r x = sum_{c in row r} f_c`` with
    ``A_r = sum_{c in row r} f_c f_c^T + a0 F^T F + l2 (|row r| + a0 n_cols)^nu I``.

    Args:
        matrix: binary CSR ``[n_rows, n_cols]``.
        fixed: the other side's vectors ``F`` ``[n_cols, d]``.
        current: this side's vectors ``[n_rows, d]``, where conjugate gradient starts.
        unobserved_weight: ``a0``, the weight of every unobserved (zero) entry.
        l2, reg_exponent: ``l2`` and ``nu`` of the frequency-scaled regularisation.
        cg_steps: 0 solves each ``d x d`` system exactly (batched ``torch.linalg.solve``, cost
            ``nnz d^2 + n d^3``); otherwise that many batched conjugate-gradient steps (cost
            ``nnz d + n d^2`` each, the approach of Takacs et al. 2011 and of ``implicit``).
        chunk_entries: bound on the ``[rows, d, d]`` systems held at once by the exact solver
            (which also holds every ``f_c f_c^T``, ``[n_cols, d^2]``).

    Returns:
        ``[n_rows, d]`` on ``fixed``'s device.
    """
    device, dim = fixed.device, fixed.shape[1]
    n_rows, n_cols = matrix.shape
    counts = torch.from_numpy(np.diff(matrix.indptr)).to(device, fixed.dtype)
    gram = unobserved_weight * fixed.T @ fixed  # [d, d]
    reg = l2 * (counts + unobserved_weight * n_cols) ** reg_exponent  # [n_rows]
    rows = sparse_rows(matrix, device)
    rhs = rows @ fixed  # [n_rows, d]
    if cg_steps == 0:
        outer = (fixed[:, :, None] * fixed[:, None, :]).reshape(n_cols, dim * dim)  # [n_cols, d^2]
        out = torch.empty_like(rhs)
        eye = torch.eye(dim, dtype=fixed.dtype, device=device)
        step = max(chunk_entries // (dim * dim), 1)
        for first in range(0, n_rows, step):
            last = min(first + step, n_rows)
            lhs = (sparse_rows(matrix[first:last], device) @ outer).reshape(-1, dim, dim)
            lhs += gram + reg[first:last, None, None] * eye
            out[first:last] = torch.linalg.solve(lhs, rhs[first:last])
        return out

    def product(x: Tensor) -> Tensor:  # A_r x_r for every row at once, [n_rows, d]
        # f_c . x_r at each interaction only, then summed back into rows: sparse products, no [nnz, d].
        along = torch.sparse.sampled_addmm(rows, x, fixed.T, beta=0.0)  # CSR [n_rows, n_cols]
        return x @ gram + reg[:, None] * x + along @ fixed

    x = current.clone()
    residual = rhs - product(x)
    direction = residual.clone()
    norm = residual.square().sum(dim=1, keepdim=True)  # [n_rows, 1]
    for _ in range(cg_steps):
        moved = product(direction)
        step = norm / (direction * moved).sum(dim=1, keepdim=True).clamp(min=1e-20)
        x += step * direction
        residual -= step * moved
        new_norm = residual.square().sum(dim=1, keepdim=True)
        direction = residual + new_norm / norm.clamp(min=1e-20) * direction
        norm = new_norm
    return x


class IALS(nn.Module):
    """Matrix factorisation of implicit feedback by alternating exact least squares.

    Minimises ``sum_{(u,i) observed} (1 - w_u.h_i)^2 + a0 sum_{all (u,i)} (w_u.h_i)^2 +
    l2 (sum_u (|I_u| + a0 n_items)^nu ||w_u||^2 + sum_i (|U_i| + a0 n_users)^nu ||h_i||^2)``:
    Hu et al.'s confidence-weighted loss written with Rendle et al.'s unobserved weight ``a0``
    and frequency-scaled regularisation. Each half-step solves all users' (then all items')
    ``d x d`` systems as batched tensors on the model's device, exactly or by a few warm-started
    conjugate-gradient steps; ``score = W[users] H^T``.

    Args:
        n_users: number of users (given by recbench).
        n_items: number of items (given by recbench).
        embedding_dim: ``d``, the factor size.
        n_iterations: alternating (user step, item step) rounds.
        unobserved_weight: ``a0``.
        l2: ``lambda``.
        reg_exponent: ``nu`` (0 = plain L2, 1 = Rendle et al.'s frequency scaling).
        init_std: factors start from a normal with standard deviation ``init_std / sqrt(d)``.
        cg_steps: conjugate-gradient steps per half-step (warm-started); 0 solves exactly.
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 64, n_iterations: int = 10,
                 unobserved_weight: float = 0.1, l2: float = 0.01, reg_exponent: float = 1.0,
                 init_std: float = 0.1, cg_steps: int = 3):
        super().__init__()
        require_positive("model.embedding_dim", embedding_dim, integer=True)
        require_positive("model.n_iterations", n_iterations, integer=True)
        require(unobserved_weight > 0, f"model.unobserved_weight must be > 0, got {unobserved_weight!r}")
        require(l2 >= 0, f"model.l2 must be >= 0, got {l2!r}")
        require(init_std > 0, f"model.init_std must be > 0, got {init_std!r}")
        require(cg_steps >= 0, f"model.cg_steps must be >= 0 (0 = exact solve), got {cg_steps!r}")
        self.n_users, self.n_items = n_users, n_items
        self.embedding_dim, self.n_iterations, self.cg_steps = embedding_dim, n_iterations, cg_steps
        self.unobserved_weight, self.l2, self.reg_exponent = unobserved_weight, l2, reg_exponent
        self.init_std = init_std
        # Drawn from the run's seeded RNG, so that a refit starts from the same point as the fit.
        self.init_seed = int(torch.randint(2 ** 31 - 1, ()).item())
        self.register_buffer("user_factors", torch.zeros(n_users, embedding_dim))  # W [n_users, d]
        self.register_buffer("item_factors", torch.zeros(n_items, embedding_dim))  # H [n_items, d]

    def fit(self, train: sp.csr_matrix) -> None:
        """Alternate exact user and item steps on ``train`` ``[n_users, n_items]``."""
        generator = torch.Generator().manual_seed(self.init_seed)
        std = self.init_std / self.embedding_dim ** 0.5
        items = torch.randn(self.n_items, self.embedding_dim, generator=generator) * std
        items = items.to(self.item_factors.device)
        users = torch.zeros(self.n_users, self.embedding_dim, device=items.device)
        train = train.tocsr()
        train_t = train.T.tocsr()
        settings = (self.unobserved_weight, self.l2, self.reg_exponent, self.cg_steps)
        for _ in range(self.n_iterations):
            users = solve_side(train, items, users, *settings)
            items = solve_side(train_t, users, items, *settings)
        self.user_factors.copy_(users)
        self.item_factors.copy_(items)

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        return self.user_factors[users] @ self.item_factors.T  # [B, n_items]
