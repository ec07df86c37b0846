"""``check_plugin``: trains a plugin on tiny synthetic data and checks it against the contract.

The contract (:mod:`recbench.plugin`) is small, and each rule guards the fairness of a comparison:
a score matrix of the wrong orientation, a NaN, a seed that does not fix the result, a score that
leaks across users of a batch, a mutated history (which defeats the evaluator's masking of known
items) or learned state that a checkpoint loses would each corrupt a leaderboard silently. Every
check trains through recbench's own code (the Lightning module and data module for neural
plugins, ``fit`` for fitted ones) and ranks through the real evaluator.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from recbench.config import build
from recbench.data.cold_start import ColdItems, ColdUsers
from recbench.data.feature_needs import model_feature_sides, plugin_node
from recbench.data.interactions import Interactions, SplitData
from recbench.data.sequences import PAD, Sequences, build_sequences
from recbench.data.split import LeaveOneOut, RandomSplit
from recbench.data.synthetic import generate_synthetic
from recbench.errors import RecbenchError
from recbench.evaluation.evaluator import Evaluator, dense_rows
from recbench.plugin import FeatureTensors, is_fit_model, reads_sequences, takes_sparse_history
from recbench.testing.ddp import check_ddp_run, find_repo_root

# Scores are compared with this tolerance: CPU float32 kernels may reorder sums between batch
# shapes, but a real dependence on other users or on unseeded randomness is far larger.
ATOL, RTOL = 1e-5, 1e-4
KS = [5, 10]


class PluginContractError(AssertionError):
    """A plugin breaks the model contract; the message names the violation and how to fix it."""


@dataclass
class CheckReport:
    """What :func:`check_plugin` verified."""

    target: str
    kind: str  # "fit" or "neural"
    passed: list[str] = field(default_factory=list)


def check_plugin(model: str | Path | Mapping | DictConfig, *, ddp: bool = False, seed: int = 0,
                 epochs: int = 2, n_users: int = 64, n_items: int = 48,
                 repo_root: str | Path | None = None) -> CheckReport:
    """Run a plugin through the contract; raise :class:`PluginContractError` at the first violation.

    Checks, in order: the interface (``score``, ``n_users``/``n_items``, and ``fit`` or ``loss``
    with ``batch_kind``, ``batch_size``, ``num_negatives`` and an optimizer); then, after training
    on tiny synthetic data: score shape ``[B, n_items]``; finite scores; repeatable scores; scores
    that do not depend on the other users of a batch; the evaluator never recommending a known
    item; the same scores from a second build and training with the same seed; the same scores
    after a ``state_dict`` round trip into a fresh instance; and with ``ddp`` (neural plugins only,
    slow) a ``run.py`` run under ``trainer=ddp`` with 2 CPU processes that evaluates every test
    user exactly once. A feature-aware plugin (``feature_inputs``) gets synthetic features (some
    ids masked) and is also checked for: features kept out of the ``state_dict``; any feature
    width building and scoring; finite scores for cold items (or cold users without history).
    A sequence plugin (``history_kind = "sequence"``) is trained and scored on a leave-one-out
    split from time-ordered histories ``[B, max_len]``, and must also show that the order of a
    history matters (reversing it changes the scores) and that padding does not (the same
    histories with fewer pad columns score the same). A plugin with ``sparse_history`` must score
    the same from the history as sparse COO rows as from the dense rows.

    Args:
        model: a model config option name (``"mlp"``, resolved through Hydra's search path, so
            installed plugin packages count), a path to a model YAML file, or a config mapping
            with ``_target_``.
        ddp: also run the 2-process DDP check (neural plugins; needs a recbench checkout).
        seed: the seed of every run.
        epochs: training epochs of neural plugins.
        n_users: users of the synthetic data.
        n_items: items of the synthetic data (keep it different from ``n_users`` so that a
            transposed score matrix shows).
        repo_root: the recbench checkout holding ``run.py`` and ``conf/``; found automatically.

    Returns:
        A :class:`CheckReport` listing the checks that passed.
    """
    cfg, option = _model_config(model, repo_root)
    target = str(cfg.get("_target_"))
    split = tiny_split(n_users, n_items, seed)
    sides = model_feature_sides(cfg)
    features = synthetic_features(sides, n_users, n_items, seed)
    cfg = plugin_node(cfg)
    with _quiet_lightning():
        first = _build(cfg, split, seed, features)
        kind = "fit" if is_fit_model(first) else "neural"
        report = CheckReport(target, kind)
        check = _Checker(target, report)
        sequential = reads_sequences(first)
        if sequential:  # sequence models need time order: rebuild on a leave-one-out split
            split = tiny_split(n_users, n_items, seed, time_ordered=True)
            first = _build(cfg, split, seed, features)
        check.interface(first, split, kind)
        _train(first, split, seed, epochs)
        users = torch.arange(split.n_users)
        history = _histories(first, split)  # [n_users, n_items], or [n_users, max_len] sequences
        scores = check.shape(first, users, history)
        check.finite(scores)
        check.repeatable(first, users, history, scores)
        check.batch_independent(first, users, history, scores)
        check.masking(first, split)
        if takes_sparse_history(first):
            check.sparse_history(first, users, history, scores)
        if sequential:
            check.order_matters(first, split, users, history, scores)
            check.padding_invariant(first, users, history, scores)

        second = _build(cfg, split, seed, features)
        _train(second, split, seed, epochs)
        check.seeded(_score(second, users, history), scores, seed)

        fresh = _build(cfg, split, seed + 1, features)
        check.checkpoint(first, fresh, users, history, scores)
        if sides:
            check.features(first, features)
            check.feature_widths(cfg, split, seed, sides)
            check.cold_ids(cfg, sides, n_users, n_items, seed, epochs)

    if ddp and kind == "neural":
        check_ddp_run(cfg, option, find_repo_root(repo_root), seed, n_users, n_items,
                      fail=lambda message: check.fail("DDP run", message),
                      split="leave_one_out" if reads_sequences(first) else None)
        report.passed.append("ddp")
    return report


# -- the checks ---------------------------------------------------------------------------------

class _Checker:
    """Each method checks one rule and records it, or raises with the rule's name and a fix."""

    def __init__(self, target: str, report: CheckReport):
        self.target, self.report = target, report

    def fail(self, rule: str, message: str):
        raise PluginContractError(f"{self.target} violates the plugin contract: {rule}: {message}")

    def ok(self, rule: str) -> None:
        self.report.passed.append(rule)

    def interface(self, model, split: SplitData, kind: str) -> None:
        rule = "interface"
        if not isinstance(model, nn.Module):
            self.fail(rule, f"it is a {type(model).__name__}, not a torch.nn.Module")
        if not callable(getattr(model, "score", None)):
            self.fail(rule, "it has no score(users, history) method")
        if getattr(model, "n_users", None) != split.n_users or getattr(model, "n_items", None) != split.n_items:
            self.fail(rule, "it must store its n_users and n_items arguments as self.n_users and self.n_items")
        if getattr(model, "history_kind", "rows") not in ("rows", "sequence"):
            self.fail(rule, f"history_kind is {model.history_kind!r}; set it to 'sequence' (time-ordered "
                            "histories) or leave it out")
        if reads_sequences(model):
            _positive_int(self, rule, model, "max_len")
        if kind == "neural":
            if not callable(getattr(model, "loss", None)):
                self.fail(rule, "it has neither fit(train) (fitted models) nor loss(batch) (neural models)")
            kinds = ("next_item", "masked_item") if reads_sequences(model) else ("interactions", "users")
            if getattr(model, "batch_kind", None) not in kinds:
                self.fail(rule, f"batch_kind is {getattr(model, 'batch_kind', None)!r}; "
                                f"set it to {' or '.join(map(repr, kinds))}")
            _positive_int(self, rule, model, "batch_size")
            if model.batch_kind == "interactions":
                _positive_int(self, rule, model, "num_negatives")
            if getattr(model, "manual_optimization", False):
                for method in ("configure_optimizers", "manual_step"):
                    if not callable(getattr(model, method, None)):
                        self.fail(rule, f"manual_optimization is set but it has no {method}()")
            elif not (callable(getattr(model, "optimizer", None))
                      or callable(getattr(model, "configure_optimizers", None))):
                self.fail(rule, "it needs an optimizer (a partial taking the parameters) or configure_optimizers()")
        self.ok(rule)

    def shape(self, model, users: Tensor, history: Tensor) -> Tensor:
        rule = "wrong score shape"
        some = users[:7]  # a batch size unlike n_users and n_items, so a transpose shows
        for batch_users in (some, users):
            scores = _score(model, batch_users, history[batch_users])
            expected = (len(batch_users), model.n_items)
            if not isinstance(scores, Tensor):
                self.fail(rule, f"score() returned a {type(scores).__name__}, expected a tensor of shape "
                                f"{list(expected)} (users x items)")
            if tuple(scores.shape) != expected:
                self.fail(rule, f"score() returned shape {list(scores.shape)} for {len(batch_users)} users "
                                f"and {expected[1]} items; it must be {list(expected)} (users x items), "
                                "one score for every item")
            if not scores.is_floating_point():
                self.fail(rule, f"score() returned dtype {scores.dtype}; scores must be floating point")
        self.ok("score shape")
        return scores

    def finite(self, scores: Tensor) -> None:
        bad = ~torch.isfinite(scores)
        if bad.any():
            user, item = (int(i) for i in bad.nonzero()[0])
            self.fail("NaN or infinite scores", f"{int(bad.sum())} of {scores.numel()} scores of the trained "
                      f"model are NaN or infinite (the first: user {user}, item {item}); guard divisions "
                      "and logarithms in score() (clamp the denominator) or fix the training")
        self.ok("finite scores")

    def repeatable(self, model, users: Tensor, history: Tensor, scores: Tensor) -> None:
        again = _score(model, users, history)
        if not _close(again, scores):
            self.fail("results change under a fixed seed", f"two calls of score() on the same trained model "
                      f"gave different scores (max difference {_max_diff(again, scores):.3g}); score() must "
                      "not draw random numbers (dropout and sampling belong in training only)")
        self.ok("repeatable scores")

    def batch_independent(self, model, users: Tensor, history: Tensor, scores: Tensor) -> None:
        rule = "scores depend on other users in the same batch"
        reverse = torch.flip(users, dims=[0])
        batches = [reverse] + [users[i:i + 1] for i in range(0, len(users), max(1, len(users) // 8))]
        for batch_users in batches:
            alone = _score(model, batch_users, history[batch_users])
            together = scores[batch_users]
            if not _close(alone, together):
                row = int((alone - together).abs().amax(dim=1).argmax())
                how = "alone" if len(batch_users) == 1 else "in a batch in reverse order"
                self.fail(rule, f"user {int(batch_users[row])} scored {how} differs from the same user "
                          f"scored with all users (max difference {_max_diff(alone, together):.3g}); each "
                          "row of score() must depend only on that user and that user's history (no "
                          "centring or normalising over the users of the batch)")
        self.ok("batch independence")

    def masking(self, model, split: SplitData) -> None:
        history, target = split.stage("test")
        if not reads_sequences(model):  # a sequence model never sees the dense rows
            given = dense_rows(history, np.arange(min(8, history.shape[0])))
            before = given.clone()
            with torch.no_grad():
                model.eval()
                model.score(torch.arange(len(given)), given)
            if not torch.equal(given, before):
                self.fail("score() changes its history argument in place",
                          "recbench recommend and recbench explain mask the known items from that tensor, so "
                          "they would recommend known items: compute on a copy (history = history.clone()) "
                          "or out of place")
        rule = "training items not masked by the evaluator"
        sequences = build_sequences(split, "test").padded(model.max_len) if reads_sequences(model) else None
        result = Evaluator(KS, batch_size=16, keep_top_items=True).evaluate(model, history, target, "test",
                                                                            torch.device("cpu"), sequences)
        known = history[result.users].toarray() > 0  # [n_evaluated, n_items]
        recommended_known = np.take_along_axis(known, result.top_items, axis=1)  # [n_evaluated, K]
        # A user with fewer than K unknown items must be shown known (masked, -inf) ones.
        room = (~known).sum(axis=1) >= result.top_items.shape[1]
        bad = recommended_known & room[:, None]
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            item = int(result.top_items[row][bad[row]][0])
            self.fail(rule, f"the evaluator recommended user {int(result.users[row])} the known item {item} "
                      f"({int(bad.sum())} known items in top-{result.top_items.shape[1]} lists in all); "
                      "the evaluator masks from the batch's own history, whatever score() does, so this "
                      "points at recbench (recbench/evaluation/ranking.py): please report it")
        self.ok("known items masked")

    def sparse_history(self, model, users: Tensor, history: Tensor, scores: Tensor) -> None:
        from_sparse = _score(model, users, history.to_sparse())
        if not _close(from_sparse, scores):
            self.fail("sparse history scored differently", f"score() given the history as sparse COO rows "
                      f"(as the evaluator passes it to a model with sparse_history = True) differs from "
                      f"score() given the same rows dense (max difference {_max_diff(from_sparse, scores):.3g}); "
                      "read a sparse history with history.indices() and history.values(), or convert it "
                      "with history.to_dense(), or drop sparse_history")
        self.ok("sparse history scored as dense")

    def order_matters(self, model, split: SplitData, users: Tensor, history: Tensor, scores: Tensor) -> None:
        # The same items in the opposite order; with a one-item window, the user's oldest item instead.
        reversed_history = (_reversed_rows(history) if model.max_len > 1
                            else _reversed(build_sequences(split, "train")).padded(1))
        again = _score(model, users, reversed_history)
        if _close(again, scores):
            self.fail("a sequence model ignores order", "reversing every user's history left all scores "
                      "unchanged; a plugin with history_kind = 'sequence' must read the items in time "
                      "order (oldest first, the latest at position length - 1), or drop history_kind")
        self.ok("history order matters")

    def padding_invariant(self, model, users: Tensor, history: Tensor, scores: Tensor) -> None:
        lengths = (history != PAD).sum(dim=1)  # [n_users]
        for length in lengths.unique().tolist():  # the users of each length, with no pad column left
            same = (lengths == length).nonzero().view(-1)
            trimmed = _score(model, users[same], history[same, :max(length, 1)])
            if not _close(trimmed, scores[same]):
                self.fail("scores depend on padding", f"histories of {length} items scored with "
                          f"{history.shape[1] - max(length, 1)} fewer pad columns score differently (max "
                          f"difference {_max_diff(trimmed, scores[same]):.3g}); positions holding PAD (-1, on "
                          "the right) must not change any score: mask them out of attention and pooling, "
                          "and read the latest item at position length - 1")
        self.ok("padding ignored")

    def seeded(self, second: Tensor, first: Tensor, seed: int) -> None:
        if not _close(second, first):
            self.fail("results change under a fixed seed", f"two builds and trainings with seed {seed} gave "
                      f"scores that differ by up to {_max_diff(second, first):.3g}; draw randomness from "
                      "torch's or numpy's global generators (recbench seeds them) or from a generator "
                      "seeded by a hyperparameter, never from an unseeded one such as "
                      "np.random.default_rng()")
        self.ok("deterministic under a fixed seed")

    def checkpoint(self, trained, fresh, users: Tensor, history: Tensor, scores: Tensor) -> None:
        rule = "checkpoint round trip"
        buffer = io.BytesIO()
        torch.save(trained.state_dict(), buffer)
        buffer.seek(0)
        try:
            fresh.load_state_dict(torch.load(buffer, weights_only=True))
        except (RuntimeError, KeyError, ValueError) as error:
            self.fail(rule, f"loading the trained state_dict into a fresh instance failed ({error}); create "
                      "every parameter and buffer in __init__ with its final shape and fill it in place")
        restored = _score(fresh, users, history)
        if not _close(restored, scores):
            self.fail(rule, f"a fresh instance loaded with the trained state_dict scores differently (max "
                      f"difference {_max_diff(restored, scores):.3g}); keep learned state in parameters or "
                      "registered buffers, not in plain attributes")
        self.ok("checkpoint round trip")

    # -- feature-aware plugins (``feature_inputs``) ----------------------------------------------
    def features(self, model, features: dict[str, FeatureTensors]) -> None:
        rule = "side information"
        state = model.state_dict()
        for name, tensors in features.items():
            stored = [key for key, value in state.items()
                      if value.shape == tensors.values.shape and torch.equal(value, tensors.values)]
            if stored:
                self.fail(rule, f"{name} is saved in the state_dict as {stored[0]!r}: register it with "
                                "register_buffer(..., persistent=False) so checkpoints hold what was learned only")
        self.ok("features kept out of checkpoints")

    def feature_widths(self, cfg: DictConfig, split: SplitData, seed: int, sides: tuple[str, ...]) -> None:
        """Any feature width builds and scores (a dataset decides it, not the plugin)."""
        users = torch.arange(split.n_users)
        history = dense_rows(split.train, np.arange(split.n_users))
        for dim in (1, 37):
            try:
                model = _build(cfg, split, seed, synthetic_features(sides, split.n_users, split.n_items, seed, dim))
                _train(model, split, seed, 1)
                scores = _score(model, users, history)
            except (RuntimeError, ValueError) as error:
                self.fail("feature shapes", f"with {dim}-dimensional features it failed ({error}); size "
                          "layers from item_features.values.shape[1], never from a constant")
            if tuple(scores.shape) != (split.n_users, split.n_items) or not torch.isfinite(scores).all():
                self.fail("feature shapes", f"with {dim}-dimensional features score() returned shape "
                          f"{list(scores.shape)} (finite: {bool(torch.isfinite(scores).all())}); size "
                          "layers from item_features.values.shape[1], never from a constant")
        self.ok("any feature width")

    def cold_ids(self, cfg: DictConfig, sides: tuple[str, ...], n_users: int, n_items: int, seed: int,
                 epochs: int) -> None:
        """Items (users) without training interactions, and ids whose mask is False, score finitely."""
        frame, _ = generate_synthetic(n_users=n_users, n_items=n_items, mean_interactions=10.0,
                                      min_interactions=5, seed=seed)
        data = Interactions.from_frame(frame)
        splitter = ColdItems(0.3) if "item" in sides else ColdUsers(0.3, fold_in=0)
        split = splitter(data, seed)
        features = synthetic_features(sides, n_users, n_items, seed)
        model = _build(cfg, split, seed, features)
        _train(model, split, seed, epochs)
        for stage in ("valid", "test"):
            history, target = split.stage(stage)
            users = np.flatnonzero(np.diff(target.indptr))
            scores = _score(model, torch.from_numpy(users), dense_rows(history, users))
            cold = split.candidate_items(stage)
            where = "cold items" if cold is not None else "cold users (no history)"
            columns = torch.from_numpy(cold) if cold is not None else slice(None)
            if not torch.isfinite(scores[:, columns]).all():
                self.fail("cold ids", f"score() gave NaN or infinite scores to {where} of the {stage} stage; "
                                      "a feature-aware model must score ids without training interactions "
                                      "(and ids whose feature mask is False) from their features")
        self.ok("cold ids score finitely")


# -- helpers ------------------------------------------------------------------------------------

def tiny_split(n_users: int, n_items: int, seed: int, time_ordered: bool = False) -> SplitData:
    """Tiny synthetic interactions (about 10 per user), split 70/15/15 at random by ``seed``, or
    leave-one-out by time with ``time_ordered``."""
    frame, items = generate_synthetic(n_users=n_users, n_items=n_items, mean_interactions=10.0,
                                      min_interactions=5, seed=seed)
    splitter = LeaveOneOut() if time_ordered else RandomSplit((0.7, 0.15, 0.15))
    return splitter(Interactions.from_frame(frame, items), seed=seed)


def _histories(model, split: SplitData) -> Tensor:
    """Every user's training history in the form ``model.score`` reads."""
    if reads_sequences(model):
        return build_sequences(split, "train").padded(model.max_len)  # [n_users, max_len]
    return dense_rows(split.train, np.arange(split.n_users))  # [n_users, n_items]


def _reversed_rows(history: Tensor) -> Tensor:
    """Padded histories ``[B, L]`` with each row's items in the opposite order (padding stays right)."""
    length = (history != PAD).sum(dim=1, keepdim=True)  # [B, 1]
    mirror = (length - 1 - torch.arange(history.shape[1])).clamp(min=0)  # [B, L]
    return torch.where(history != PAD, history.gather(1, mirror), PAD)


def _reversed(sequences: Sequences) -> Sequences:
    """Each user's items in the opposite order."""
    user = np.repeat(np.arange(sequences.n_users), sequences.lengths)
    mirror = sequences.indptr[user] + sequences.indptr[user + 1] - 1 - np.arange(len(sequences.items))
    return Sequences(items=sequences.items[mirror], indptr=sequences.indptr)


def _model_config(model, repo_root) -> tuple[DictConfig, str | None]:
    """The model config node, and its config option name when it was given by name."""
    if isinstance(model, DictConfig):
        return model, None
    if isinstance(model, Mapping):
        return OmegaConf.create(dict(model)), None
    path = Path(model)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise RecbenchError(f"model config file {path} does not exist")
        return OmegaConf.load(path), None
    return compose_model(str(model), find_repo_root(repo_root)), str(model)


def compose_model(option: str, repo_root: Path) -> DictConfig:
    """``cfg.model`` of the run config composed with ``model=<option>`` (search path plugins included)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException

    try:
        with initialize_config_dir(config_dir=str(repo_root / "conf"), version_base="1.3"):
            return compose("config", overrides=[f"model={option}", "logger=none"]).model
    except MissingConfigException as error:
        raise RecbenchError(f"no model config named {option!r}: add conf/model/{option}.yaml or install "
                            f"the package that provides it ({error})") from None


def synthetic_features(sides: tuple[str, ...], n_users: int, n_items: int, seed: int,
                       dim: int = 12) -> dict[str, FeatureTensors]:
    """``{"item_features": ..., "user_features": ...}`` for ``sides``: multi-hot and Gaussian columns.

    Every 8th id has no features (zero row, mask False), as ids missing from a feature file do.
    """
    out = {}
    generator = torch.Generator().manual_seed(seed)
    for side in sides:
        n = n_items if side == "item" else n_users
        values = torch.cat([(torch.rand(n, dim - dim // 2, generator=generator) < 0.3).float(),
                            torch.randn(n, dim // 2, generator=generator)], dim=1)  # [n, dim]
        mask = torch.ones(n, dtype=torch.bool)
        mask[::8] = False
        out[f"{side}_features"] = FeatureTensors(values * mask[:, None], mask)
    return out


def _build(cfg: DictConfig, split: SplitData, seed: int, features: dict[str, FeatureTensors] | None = None):
    pl.seed_everything(seed, workers=True, verbose=False)
    return build(cfg, "model", n_users=split.n_users, n_items=split.n_items, **(features or {}))


def _train(model, split: SplitData, seed: int, epochs: int) -> None:
    """Fit, or train ``epochs`` epochs through recbench's Lightning module (no validation)."""
    from recbench.training.module import InteractionDataModule, RecommenderModule
    from recbench.training.sequence_batches import Masking

    pl.seed_everything(seed, workers=True, verbose=False)
    sequential = reads_sequences(model)
    if is_fit_model(model):
        if sequential:
            model.fit(split.train, build_sequences(split, "train"))
        else:
            model.fit(split.train)
        return
    evaluator = Evaluator(KS, batch_size=64)
    module = RecommenderModule(model, split.n_items, evaluator)
    data = InteractionDataModule(split, model.batch_kind, model.batch_size, evaluator, seed,
                                 getattr(model, "num_negatives", 0),
                                 max_len=model.max_len if sequential else None,
                                 masking=Masking.of(model))
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, use_distributed_sampler=False,
                         deterministic="warn", default_root_dir=None)
    trainer.fit(module, datamodule=data)


@torch.no_grad()
def _score(model, users: Tensor, history: Tensor) -> Tensor:
    """``model.score`` in eval mode, on a copy of ``history`` so a mutating plugin cannot hide."""
    model.eval()
    return model.score(users, history.clone())


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=ATOL, rtol=RTOL, equal_nan=True)


def _max_diff(a: Tensor, b: Tensor) -> float:
    return float(torch.nan_to_num((a.float() - b.float()).abs(), nan=float("inf")).max())


def _positive_int(checker: _Checker, rule: str, model, name: str) -> None:
    value = getattr(model, name, None)
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        checker.fail(rule, f"self.{name} is {value!r}; a neural plugin must set it to a positive integer")


@contextmanager
def _quiet_lightning():
    """Lightning's banner and data-loader advice would drown the check's own output."""
    logger = logging.getLogger("pytorch_lightning")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pytorch_lightning")
            warnings.filterwarnings("ignore", module="lightning_fabric")
            yield
    finally:
        logger.setLevel(level)
