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

from recbench.data.sequences import trim_padding
from recbench.errors import RecbenchError
from recbench.evaluation.metrics import per_user_metrics
from recbench.evaluation.ranking import (
    count_per_row,
    dense_interactions,
    hits_at,
    interaction_pairs,
    top_k,
)
from recbench.evaluation.sampled import sampler_from_config
from recbench.evaluation.segments import (
    ALL_ITEMS,
    SEGMENTS,
    restrict,
    segment_masks,
    segment_metrics,
)
from recbench.plugin import takes_sparse_history


def dense_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> Tensor:
    """Rows of a CSR matrix as a dense float tensor ``[len(rows), n_cols]``."""
    return torch.from_numpy(matrix[rows].toarray().astype(np.float32, copy=False))


def interactions_only(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` in canonical CSR form (sorted, no duplicates) holding only its positive entries.

    The matrix itself when it already is (the split's matrices are), so this costs one check.
    """
    matrix = sp.csr_matrix(matrix)
    if matrix.has_canonical_format and bool((matrix.data > 0).all()):
        return matrix
    matrix = matrix.copy()
    matrix.sum_duplicates()
    matrix.data[matrix.data < 0] = 0  # a non-positive entry is no interaction, as ``> 0`` read it
    matrix.eliminate_zeros()
    return matrix


class SlicedRows:
    """The rows of a canonical CSR matrix (see :func:`interactions_only`) as (row, item, value)
    tensors, so that rows ``start:stop`` are slices of them: a batch costs its entries, never
    ``rows x n_items``, and nothing is copied from the host when they live on the device.

    Args:
        matrix: ``[n_rows, n_items]``.
        device: where the tensors live (None: the host, as a DataLoader's batches).
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device | None = None):
        self.indptr = matrix.indptr.astype(np.int64)  # on the host: batch offsets without a device read
        self.n_items = matrix.shape[1]
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(self.indptr))
        self.rows = torch.from_numpy(rows).to(device)  # [nnz]
        self.items = torch.from_numpy(matrix.indices.astype(np.int64)).to(device)  # [nnz]
        self.values = torch.from_numpy(matrix.data.astype(np.float32)).to(device)  # [nnz]

    def slice(self, start: int, stop: int) -> Tensor:
        """Rows ``start:stop`` as a coalesced sparse COO tensor ``[stop - start, n_items]``."""
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        pairs = torch.stack([self.rows[first:last] - start, self.items[first:last]])  # [2, nnz]
        return torch.sparse_coo_tensor(pairs, self.values[first:last], (stop - start, self.n_items),
                                       is_coalesced=True, check_invariants=False)


class EvaluationBatches(Dataset):
    """Batches of the users that have a target in one stage; one item of the dataset = one batch.

    Users are sharded across processes without padding (``rank::world_size``) so that a user is
    never evaluated twice.

    Each batch is ``{"users": [B], "history": [B, n_items], "target": [B, n_items]}``, history and
    target as sparse COO tensors (the users' positive entries), plus ``"sequence": [B, L]`` (the
    time-ordered histories of sequence models) when ``sequences`` ``[n_users, L]`` is given.
    :func:`model_input` makes the dense history a model scores from, on the model's device.
    With ``device``, every batch is made there from tensors moved once (the fit path), so no
    batch is copied from the host; without, batches are on the host (a DataLoader's).
    """

    def __init__(self, history: sp.csr_matrix, target: sp.csr_matrix, batch_size: int,
                 rank: int = 0, world_size: int = 1, sequences: Tensor | None = None,
                 device: torch.device | None = None):
        history, target = interactions_only(history), interactions_only(target)
        users = np.flatnonzero(np.diff(target.indptr) > 0)[rank::world_size]
        self.batch_size, self.n_users = batch_size, len(users)
        self.users = torch.from_numpy(users).to(device)
        # The evaluated users' rows in batch order, so that a batch is a slice of each.
        self.history, self.target = SlicedRows(history[users], device), SlicedRows(target[users], device)
        self.sequences, self.widths = None, []
        if sequences is not None:
            sequences = sequences.cpu()[torch.from_numpy(users)]  # [n_evaluated, L]
            # Widths found here, on the host: pad columns change no score, and cutting them saves work.
            self.widths = [trim_padding(sequences[i:i + batch_size]) for i in range(0, len(users), batch_size)]
            self.sequences = sequences.to(device)

    def __len__(self) -> int:
        return (self.n_users + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)  # ends a plain ``for batch in batches`` loop
        start = index * self.batch_size
        stop = min(start + self.batch_size, self.n_users)
        batch = {"users": self.users[start:stop], "history": self.history.slice(start, stop),
                 "target": self.target.slice(start, stop)}
        if self.sequences is not None:
            batch["sequence"] = self.sequences[start:stop, :self.widths[index]]
        return batch


def model_input(batch: dict[str, Tensor], sparse: bool = False) -> Tensor:
    """What ``score`` reads as history: the time-ordered sequence when the batch has one, else the
    rows ``[B, n_items]``, dense unless ``sparse`` (a model with ``sparse_history``)."""
    if "sequence" in batch:
        return batch["sequence"]
    return batch["history"] if sparse else dense_interactions(batch["history"])


@dataclass
class RankingResult:
    """Per-user metrics of one stage, plus what is only defined over all users."""

    users: np.ndarray  # [n_evaluated] user indices
    per_user: dict[str, np.ndarray]  # metric -> [n_evaluated]
    coverage: dict[str, float]  # "coverage@K" -> share of items recommended to anyone
    top_items: np.ndarray | None = None  # [n_evaluated, max(ks)] when kept
    top_scores: np.ndarray | None = None

    def summary(self, stage: str) -> dict[str, float]:
        """Mean of each metric over users, keyed ``stage/metric@k``.

        Segment metrics (``stage/cold/ndcg@10``) average over the users with a target in the
        segment (the others hold NaN) and are left out when no user has one. Other metrics that
        are undefined for some users (popularity lift without a history) skip those users too.
        """
        out = {}
        for name, values in self.per_user.items():
            values = values[~np.isnan(values)]
            if "/" in name and not len(values):
                continue
            out[f"{stage}/{name}"] = float(values.mean()) if len(values) else float("nan")
        out.update({f"{stage}/{name}": value for name, value in self.coverage.items()})
        return out


class RankingAccumulator:
    """Collects per-user metrics batch by batch, on the scores' device.

    Off the CPU no batch waits for the device (no host sync) when history and target are the
    sparse tensors of :class:`EvaluationBatches`; dense ones are read by ``nonzero``, which does.
    Each batch is ranked once (:func:`~recbench.evaluation.ranking.top_k` of the largest K), and
    every K, segment and beyond-accuracy metric reads that list; known items are masked and hits
    found from the (row, item) pairs, never from ``[B, n_items]`` rows.

    ``beyond`` (a :class:`~recbench.evaluation.beyond_metrics.BeyondAccuracy`) adds the
    beyond-accuracy metrics of the same top-K lists. With ``exclude_history=False`` known items
    may be recommended again.
    """

    def __init__(self, ks: list[int], n_items: int, keep_top_items: bool = False, sampler=None,
                 candidates: Tensor | None = None, segments: Tensor | None = None, beyond=None,
                 exclude_history: bool = True):
        self.ks = sorted(ks)
        self.beyond = beyond
        self.exclude_history = exclude_history  # False: known items may be recommended again
        self.sampler = sampler  # a SampledNegatives (recbench.evaluation.sampled), or None: full ranking
        self.candidates = candidates  # bool [n_items]: the items targets are ranked among; None: all
        self.segments = segments  # bool [n_segments, n_items] (recbench.evaluation.segments), or None
        self.n_items = n_items
        self.keep_top_items = keep_top_items
        self.users: list[Tensor] = []
        self.metrics: list[Tensor] = []  # each [B, n_metrics]
        self.top_items: list[Tensor] = []
        self.top_scores: list[Tensor] = []
        self.recommended: Tensor | None = None  # [len(ks), n_items] counts
        self.non_finite: Tensor | None = None
        self.names: list[str] = []

    def metric_names(self) -> list[str]:
        """The per-user columns :meth:`add` produces: metrics, then segment metrics, then ``all/`` ones."""
        base = list(per_user_metrics(torch.zeros(1, max(self.ks)), torch.ones(1), self.ks))
        names = list(base)
        if self.segments is not None:
            names += [f"{segment}/{name}" for segment in SEGMENTS[:len(self.segments)] for name in base]
        if self.candidates is not None:
            names += [f"{ALL_ITEMS}/{name}" for name in base]
        return names

    def add(self, users: Tensor, scores: Tensor, history: Tensor, target: Tensor) -> None:
        """Rank one batch.

        Args:
            users: ``[B]``.
            scores: ``[B, n_items]``, the model's (never written to).
            history: ``[B, n_items]`` known items, and target ``[B, n_items]`` held-out items: sparse
                COO tensors as :class:`EvaluationBatches` makes them, or dense (nonzero = an item).
        """
        if scores.shape != target.shape:
            raise RecbenchError(
                f"the model returned scores of shape {tuple(scores.shape)}, expected "
                f"{tuple(target.shape)} (users x items): score() must score every item")
        if scores.numel():
            low, high = torch.aminmax(scores)  # NaN propagates: one pass, no host sync
            finite = torch.isfinite(low) & torch.isfinite(high)
            self.non_finite = ~finite if self.non_finite is None else self.non_finite | ~finite
        scores = scores.float()
        known, held_out = interaction_pairs(history), interaction_pairs(target)  # [2, nnz] (row, item)
        batch = len(users)
        if self.exclude_history:
            scores = scores.index_put((known[0], known[1]), scores.new_full((), float("-inf")))
        if self.sampler is not None:
            scores = self.sampler.restrict(users, scores, dense_interactions(history), dense_interactions(target))
        kmax = min(max(self.ks), self.n_items)
        all_scores = scores
        if self.candidates is not None:
            self.candidates = self.candidates.to(scores.device)
            scores = restrict(scores, self.candidates)
        top = top_k(scores, kmax)  # [B, kmax]: one ranking for every K, segment and metric
        hits = hits_at(top, held_out, self.n_items)  # bool [B, kmax]
        n_relevant = count_per_row(held_out, batch)  # [B]
        metrics = per_user_metrics(hits.float(), n_relevant, self.ks)
        names, columns = list(metrics), [torch.stack(list(metrics.values()), dim=1)]
        if self.segments is not None:
            self.segments = self.segments.to(scores.device)
            segment_names, values = segment_metrics(top, hits, held_out, self.segments, self.ks)  # [B, S * M]
            names, columns = names + segment_names, columns + [values]
        if self.beyond is not None:
            extra = self.beyond.per_user(top, history, metrics, self.ks)
            names, columns = names + list(extra), columns + [torch.stack(list(extra.values()), dim=1)]
        if self.candidates is not None:
            # The second figure of a restricted protocol: the same targets ranked among all items.
            top_all = top_k(all_scores, kmax)
            overall = per_user_metrics(hits_at(top_all, held_out, self.n_items).float(), n_relevant, self.ks)
            names += [f"{ALL_ITEMS}/{name}" for name in overall]
            columns.append(torch.stack(list(overall.values()), dim=1))
        self.names = names
        self.users.append(users)
        self.metrics.append(torch.cat(columns, dim=1))
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
        # A process without users (a DDP shard) still needs every column, in the same order.
        self.names = self.names or self.metric_names()
        n_metrics = len(self.names)
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
        order = torch.argsort(users)
        # Metric-major, so each metric's column below is its own compact array (a column view
        # would keep the whole matrix alive, and a checkpoint would save all of it per metric).
        users, metrics = users[order].cpu().numpy(), metrics[order].T.contiguous().cpu().numpy()
        coverage = {f"coverage@{k}": float((recommended[row] > 0).float().mean())
                    for row, k in enumerate(self.ks)}
        if self.beyond is not None:
            coverage.update(self.beyond.catalogue(recommended, self.ks))
        return RankingResult(
            users=users,
            per_user={name: metrics[row] for row, name in enumerate(self.names)},
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
        head_share: the popular head of the segment metrics holds this share of training
            interactions (see :mod:`recbench.evaluation.segments`).
        beyond: beyond-accuracy metrics (:class:`~recbench.evaluation.beyond_metrics.BeyondAccuracy`),
            or None.
        exclude_history: never recommend a known item (the default); False where people consume
            items again.
    """

    def __init__(self, ks: list[int], batch_size: int, sampler=None, keep_top_items: bool = False,
                 head_share: float = 0.2, beyond=None, exclude_history: bool = True):
        self.beyond = beyond
        self.ks = sorted(int(k) for k in ks)
        self.batch_size = int(batch_size)
        self.sampler = sampler
        self.keep_top_items = keep_top_items
        self.head_share = float(head_share)
        # stage -> (candidate items bool [n_items] or None, segment masks bool [S, n_items]); see for_split
        self.stage_items: dict[str, tuple[Tensor | None, Tensor]] = {}
        self.exclude_history = exclude_history

    @classmethod
    def from_config(cls, evaluation) -> "Evaluator":
        """The evaluator that ``cfg.evaluation`` describes."""
        return cls(list(evaluation.ks), evaluation.batch_size, sampler_from_config(evaluation),
                   bool(evaluation.save_recommendations), evaluation.get("head_share", 0.2),
                   exclude_history=bool(evaluation.get("exclude_history", True)))

    def for_split(self, split, refit: bool = False, beyond=None) -> "Evaluator":
        """This evaluator with the split's candidate sets and item segments for each stage.

        Segments follow the training matrix the stage's model was fitted on (train + valid for
        the test stage under ``refit``); candidates are all items, or the stage's cold items under
        ``split=cold_items``. ``beyond`` adds the beyond-accuracy metrics (built for this split).
        """
        bound = Evaluator(self.ks, self.batch_size, self.sampler, self.keep_top_items, self.head_share,
                          beyond if beyond is not None else self.beyond, self.exclude_history)
        for stage, fitted_on in (("valid", split), ("test", split.merged_for_refit() if refit else split)):
            candidates = fitted_on.candidate_items(stage)
            bound.stage_items[stage] = (None if candidates is None else torch.from_numpy(candidates),
                                        segment_masks(fitted_on.item_train_counts(), self.head_share))
        return bound

    def accumulator(self, n_items: int, stage: str) -> RankingAccumulator:
        """A fresh accumulator for one pass over ``stage`` ("valid" or "test")."""
        candidates, segments = self.stage_items.get(stage, (None, None))
        return RankingAccumulator(self.ks, n_items, self.keep_top_items and stage == "test", self.sampler,
                                  candidates, segments, self.beyond, self.exclude_history)

    def batches(self, history: sp.csr_matrix, target: sp.csr_matrix, rank: int = 0,
                world_size: int = 1, sequences: Tensor | None = None,
                device: torch.device | None = None) -> EvaluationBatches:
        """This process's share of the user batches of one stage (with ``sequences`` ``[n_users, L]``
        for sequence models), made on ``device`` (None: on the host, for a DataLoader)."""
        return EvaluationBatches(history, target, self.batch_size, rank, world_size, sequences, device)

    @torch.no_grad()
    def evaluate(self, model, history: sp.csr_matrix, target: sp.csr_matrix, stage: str,
                 device: torch.device, sequences: Tensor | None = None) -> RankingResult:
        """Evaluate a model in this process over all users with a target (the fit path).

        ``sequences`` ``[n_users, L]``: the time-ordered histories a sequence model scores from.
        """
        accumulator = self.accumulator(target.shape[1], stage)
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        sparse = takes_sparse_history(model)
        for batch in self.batches(history, target, sequences=sequences, device=device):
            accumulator.add(batch["users"], model.score(batch["users"], model_input(batch, sparse)),
                            batch["history"], batch["target"])
        if was_training:
            model.train()
        return accumulator.gather()
