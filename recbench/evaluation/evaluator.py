"""Scores users in batches, ranks all items and accumulates per-user metrics.

The same :class:`RankingAccumulator` serves the Lightning validation/test loops of gradient
models and the plain loop of fitted models, so every model is scored by one code path.
Under DDP each process evaluates a disjoint shard of users and :meth:`RankingAccumulator.gather`
joins the shards, so every user is counted exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch.utils.data import Dataset

from recbench.errors import RecbenchError
from recbench.evaluation.metrics import per_user_metrics
from recbench.evaluation.ranking import densify, hits_at, mask_known, top_k
from recbench.evaluation.sampled import sampler_from_config


def dense_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> Tensor:
    """Rows of a CSR matrix as a dense float tensor ``[len(rows), n_cols]``."""
    return torch.from_numpy(matrix[rows].toarray().astype(np.float32, copy=False))


def csr_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> Tensor:
    """The entries of some rows of a CSR matrix as int64 ``[2, nnz]`` (position in ``rows``, column).

    Whole-array indexing into ``indptr``/``indices``: the cost is the rows' entries, never
    ``len(rows) x n_cols``.
    """
    starts = matrix.indptr[rows].astype(np.int64)
    counts = matrix.indptr[rows + 1].astype(np.int64) - starts  # [len(rows)]
    row = np.repeat(np.arange(len(rows)), counts)  # [nnz]
    # Entry j of row r sits at starts[r] + j; j = position - (entries of the rows before r).
    position = np.arange(counts.sum()) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return torch.from_numpy(np.stack([row, matrix.indices[position].astype(np.int64)]))


class EvaluationBatches(Dataset):
    """Batches of the users that have a target in one stage; one item of the dataset = one batch.

    Users are sharded across processes without padding (``rank::world_size``) so that a user is
    never evaluated twice.

    Each batch is ``{"users": [B], "history": [2, nnz_h], "target": [2, nnz_t]}``: the known and
    held-out items as (row in the batch, item) pairs, never dense ``[B, n_items]`` rows, so that
    building a batch costs its interactions only. :func:`~recbench.evaluation.ranking.densify`
    makes the dense history a model scores from, on the model's device.
    """

    def __init__(self, history: sp.csr_matrix, target: sp.csr_matrix, batch_size: int,
                 rank: int = 0, world_size: int = 1):
        users = np.flatnonzero(np.diff(target.indptr) > 0)[rank::world_size]
        self.batches = [users[i:i + batch_size] for i in range(0, len(users), batch_size)]
        self.history, self.target = history, target

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        users = self.batches[index]
        return {
            "users": torch.from_numpy(users),
            "history": csr_rows(self.history, users),
            "target": csr_rows(self.target, users),
        }


@dataclass
class RankingResult:
    """Per-user metrics of one stage, plus what is only defined over all users."""

    users: np.ndarray  # [n_evaluated] user indices
    per_user: dict[str, np.ndarray]  # metric -> [n_evaluated]
    coverage: dict[str, float]  # "coverage@K" -> share of items recommended to anyone
    top_items: np.ndarray | None = None  # [n_evaluated, max(ks)] when kept
    top_scores: np.ndarray | None = None

    def summary(self, stage: str) -> dict[str, float]:
        """Mean of each metric over users, keyed ``stage/metric@k``."""
        out = {f"{stage}/{name}": float(values.mean()) if len(values) else float("nan")
               for name, values in self.per_user.items()}
        out.update({f"{stage}/{name}": value for name, value in self.coverage.items()})
        return out


class RankingAccumulator:
    """Collects per-user metrics batch by batch, on the scores' device (no host syncs per batch)."""

    def __init__(self, ks: list[int], n_items: int, keep_top_items: bool = False, sampler=None):
        self.ks = sorted(ks)
        self.sampler = sampler  # a SampledNegatives (recbench.evaluation.sampled), or None: full ranking
        self.n_items = n_items
        self.keep_top_items = keep_top_items
        self.users: list[Tensor] = []
        self.metrics: list[Tensor] = []  # each [B, n_metrics]
        self.top_items: list[Tensor] = []
        self.top_scores: list[Tensor] = []
        self.recommended: Tensor | None = None  # [len(ks), n_items] counts
        self.non_finite: Tensor | None = None
        self.names: list[str] = []

    def add(self, users: Tensor, scores: Tensor, history: Tensor, target: Tensor) -> None:
        """Rank one batch.

        Args:
            users: ``[B]``.
            scores: ``[B, n_items]``, the model's scores (not modified).
            history: ``[2, nnz]`` (row in the batch, item) of the known items, excluded from the ranking.
            target: ``[2, nnz]`` (row in the batch, item) of the held-out items.
        """
        if scores.dim() != 2 or scores.shape != (len(users), self.n_items):
            raise RecbenchError(
                f"the model returned scores of shape {tuple(scores.shape)}, expected "
                f"{(len(users), self.n_items)} (users x items): score() must score every item")
        # The extremes are finite exactly when every score is (max and min propagate NaN): one
        # pass, no host sync.
        low, high = torch.aminmax(scores)
        finite = torch.isfinite(low) & torch.isfinite(high)
        self.non_finite = ~finite if self.non_finite is None else self.non_finite | ~finite
        # A copy (the model may have returned its own buffer), with NaN last, then known items masked.
        scores = mask_known(torch.nan_to_num(scores.float(), nan=float("-inf")), history)
        if self.sampler is not None:  # sampled ranking (off by default) reads dense rows
            dense = [densify(rows, len(users), self.n_items) for rows in (history, target)]
            scores = self.sampler.restrict(users, scores, *dense)
        kmax = min(max(self.ks), self.n_items)
        top = top_k(scores, kmax)  # [B, kmax]
        hits = hits_at(top, target, self.n_items)  # [B, kmax]
        n_relevant = torch.bincount(target[0], minlength=len(users))  # [B]
        metrics = per_user_metrics(hits, n_relevant, self.ks)
        self.names = list(metrics)
        self.users.append(users)
        self.metrics.append(torch.stack(list(metrics.values()), dim=1))
        if self.recommended is None:
            self.recommended = torch.zeros(len(self.ks), self.n_items, device=scores.device)
        for row, k in enumerate(self.ks):
            self.recommended[row].index_add_(0, top[:, :k].reshape(-1),
                                             torch.ones(top[:, :k].numel(), device=scores.device))
        if self.keep_top_items:
            self.top_items.append(top)
            self.top_scores.append(scores.gather(1, top))

    def gather(self, all_gather: Callable[[Tensor], Tensor] | None = None,
               reduce_sum: Callable[[Tensor], Tensor] | None = None) -> RankingResult:
        """Join this process's batches (and, when given, all processes') into one result.

        Args:
            all_gather: gathers a same-shaped tensor from every process into ``[world, ...]``.
            reduce_sum: sums a tensor over processes.
        """
        device = self.recommended.device if self.recommended is not None else torch.device("cpu")
        n_metrics = len(self.names) or len(per_user_metrics(torch.zeros(1, 1), torch.ones(1), self.ks))
        users = torch.cat(self.users) if self.users else torch.zeros(0, dtype=torch.long, device=device)
        metrics = torch.cat(self.metrics) if self.metrics else torch.zeros(0, n_metrics, device=device)
        recommended = self.recommended if self.recommended is not None else torch.zeros(
            len(self.ks), self.n_items, device=device)
        non_finite = self.non_finite if self.non_finite is not None else torch.tensor(False, device=device)
        tops = torch.cat(self.top_items) if self.top_items else None
        top_scores = torch.cat(self.top_scores) if self.top_scores else None
        if all_gather is not None:
            gathered = _gather_ragged(all_gather, users.to(device), metrics.to(device), tops, top_scores)
            users, metrics, tops, top_scores = gathered
            recommended = reduce_sum(recommended)
            non_finite = reduce_sum(non_finite.float()) > 0
        if bool(non_finite):
            raise RecbenchError("the model produced NaN or infinite scores: lower the learning rate, "
                                "check the model's hyperparameters, or fix its score()")
        if not self.names:
            self.names = list(per_user_metrics(torch.zeros(1, max(self.ks)), torch.ones(1), self.ks))
        order = torch.argsort(users)
        users, metrics = users[order].cpu().numpy(), metrics[order].cpu().numpy()
        coverage = {f"coverage@{k}": float((recommended[row] > 0).float().mean())
                    for row, k in enumerate(self.ks)}
        return RankingResult(
            users=users,
            per_user={name: metrics[:, col] for col, name in enumerate(self.names)},
            coverage=coverage,
            top_items=tops[order].cpu().numpy() if tops is not None else None,
            top_scores=top_scores[order].cpu().numpy() if top_scores is not None else None,
        )


def _gather_ragged(all_gather, users: Tensor, *rows: Tensor | None) -> list[Tensor | None]:
    """Gather per-process tensors of different lengths (padded to the longest, then trimmed).

    ``users`` is ``[n]``; each of ``rows`` is ``[n, ...]`` or None.
    """
    counts = all_gather(torch.tensor([len(users)], device=users.device)).view(-1)
    pad = int(counts.max()) - len(users)
    padded_users = torch.cat([users, users.new_full((pad,), -1)])
    all_users = all_gather(padded_users).reshape(-1)
    keep = all_users >= 0
    out = [all_users[keep]]
    for tensor in rows:
        if tensor is None:
            out.append(None)
            continue
        padded = torch.cat([tensor, tensor.new_zeros((pad, *tensor.shape[1:]))])
        out.append(all_gather(padded).reshape(-1, *tensor.shape[1:])[keep])
    return out


class Evaluator:
    """How every model is scored, built once from ``cfg.evaluation`` and shared by both paths.

    The fit path calls :meth:`evaluate`; the Lightning module asks for an :meth:`accumulator` per
    epoch and the data module for :meth:`batches`, so cut-offs, batch size and the candidate
    sampler are read from the config in one place.

    Args:
        ks: metric cut-offs.
        batch_size: users scored at once.
        sampler: rank among sampled negatives (:class:`~recbench.evaluation.sampled.SampledNegatives`);
            None: full ranking.
        keep_top_items: keep each test user's top-K list (for ``recommendations.parquet``).
    """

    def __init__(self, ks: list[int], batch_size: int, sampler=None, keep_top_items: bool = False):
        self.ks = sorted(int(k) for k in ks)
        self.batch_size = int(batch_size)
        self.sampler = sampler
        self.keep_top_items = keep_top_items

    @classmethod
    def from_config(cls, evaluation) -> "Evaluator":
        """The evaluator that ``cfg.evaluation`` describes."""
        return cls(list(evaluation.ks), evaluation.batch_size, sampler_from_config(evaluation),
                   bool(evaluation.save_recommendations))

    def accumulator(self, n_items: int, stage: str) -> RankingAccumulator:
        """A fresh accumulator for one pass over ``stage`` ("valid" or "test")."""
        return RankingAccumulator(self.ks, n_items, self.keep_top_items and stage == "test", self.sampler)

    def batches(self, history: sp.csr_matrix, target: sp.csr_matrix, rank: int = 0,
                world_size: int = 1) -> EvaluationBatches:
        """This process's share of the user batches of one stage."""
        return EvaluationBatches(history, target, self.batch_size, rank, world_size)

    @torch.no_grad()
    def evaluate(self, model, history: sp.csr_matrix, target: sp.csr_matrix, stage: str,
                 device: torch.device) -> RankingResult:
        """Evaluate a model in this process over all users with a target (the fit path)."""
        accumulator = self.accumulator(target.shape[1], stage)
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        for batch in self.batches(history, target):
            batch = {name: tensor.to(device) for name, tensor in batch.items()}
            rows = densify(batch["history"], len(batch["users"]), accumulator.n_items)  # [B, n_items]
            accumulator.add(batch["users"], model.score(batch["users"], rows), batch["history"], batch["target"])
        if was_training:
            model.train()
        return accumulator.gather()
