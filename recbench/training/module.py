"""The one Lightning module that trains every gradient model, and its data module."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from recbench.data.interactions import SplitData
from recbench.data.sequences import history_sequences
from recbench.errors import RecbenchError
from recbench.evaluation.evaluator import (
    Evaluator,
    RankingAccumulator,
    RankingResult,
    model_input,
)
from recbench.plugin import takes_sparse_history
from recbench.training.batches import EpochSampler, InteractionBatches, UserBatches
from recbench.training.sequence_batches import (
    SEQUENCE_BATCH_KINDS,
    Masking,
    sequence_batches,
)


class RecommenderModule(pl.LightningModule):
    """Trains a :class:`~recbench.plugin.GradientModel` and evaluates it by full ranking.

    Validation and test share :meth:`_evaluation_step`; the epoch's metrics are gathered over
    DDP processes once, at the end of the epoch, so each user counts exactly once. The validation
    result of the best epoch so far (by ``monitor``, strictly better as in Lightning's
    checkpointing and early stopping) is kept as training goes, so it never has to be recomputed.

    Args:
        model: the plugin.
        n_items: number of items (the width of the score matrix).
        evaluator: how to score (cut-offs, batch size, sampled candidates).
        monitor: the validation metric key that picks the best epoch (``valid/ndcg@10``).
        private: DP-SGD for this model (:class:`recbench.privacy.engine.PrivateTraining`): its
            optimizers are wrapped to clip per-sample gradients and add noise. None: plain training.
    """

    def __init__(self, model: torch.nn.Module, n_items: int, evaluator: Evaluator,
                 monitor: str = "valid/ndcg@10", private=None):
        super().__init__()
        self.model = model
        self.n_items = n_items
        self.evaluator = evaluator
        self.monitor = monitor
        self.private = private
        self.automatic_optimization = not getattr(model, "manual_optimization", False)
        self._accumulator: RankingAccumulator | None = None
        self._loss_not_finite = torch.zeros((), dtype=torch.bool)
        self.last_result: dict[str, RankingResult] = {}
        self.best_valid: RankingResult | None = None
        self.best_epoch: int | None = None

    def configure_optimizers(self):
        try:
            if hasattr(self.model, "configure_optimizers"):
                configured = self.model.configure_optimizers()
            else:
                configured = self.model.optimizer(self.model.parameters())
        except ValueError as error:  # torch.optim's checks, e.g. "Invalid learning rate: -0.1"
            raise RecbenchError(f"model.optimizer: {error}. Set model.optimizer.lr and "
                                "model.optimizer.weight_decay to values >= 0") from None
        if self.private is None:
            return configured
        from recbench.privacy.lightning import make_private

        return make_private(configured, self.private)

    def on_fit_start(self) -> None:
        # The optional plugin hook prepare(train): the training matrix, before every fit (and
        # refit), e.g. for a feature-aware model to learn which ids are cold.
        prepare = getattr(self.model, "prepare", None)
        if callable(prepare):
            prepare(self.trainer.datamodule.train_matrix)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int):
        # Optimizer steps taken so far (the same on every DDP process), for schedules such as
        # KL annealing: models read it from the batch instead of keeping a hidden counter. A CPU
        # scalar, which device ops take as a number: copying it to a GPU would wait for the GPU.
        batch = {**batch, "step": torch.tensor(self.global_step)}
        if not self.automatic_optimization:
            loss = self.model.manual_step(batch, self)
        else:
            loss = self.model.loss(batch)
        if len(batch["users"]) == 0:
            # A Poisson-sampled (DP) batch can be empty: its loss is NaN (a mean over nothing), but
            # its per-sample gradients are empty and the noisy step must still be taken.
            return loss if self.automatic_optimization else None
        # Checked once per epoch (on_validation_epoch_start): no host sync per step.
        self._loss_not_finite = self._loss_not_finite.to(loss.device) | ~torch.isfinite(loss.detach())
        self.log("train/loss", loss.detach(), prog_bar=True, on_step=False, on_epoch=True,
                 batch_size=len(batch["users"]))
        return loss if self.automatic_optimization else None

    def _check_loss(self) -> None:
        not_finite = self.trainer.strategy.reduce(self._loss_not_finite.float(), reduce_op="sum")
        if float(not_finite) > 0:
            raise RecbenchError(
                f"the training loss of {type(self.model).__name__} became NaN or infinite in epoch "
                f"{self.current_epoch}: lower the learning rate (model.optimizer.lr) or the "
                "weight decay, or check the model's hyperparameters")

    # -- evaluation -------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._check_loss()
        self._accumulator = self.evaluator.accumulator(self.n_items, "valid")

    def on_test_epoch_start(self) -> None:
        self._accumulator = self.evaluator.accumulator(self.n_items, "test")

    def _evaluation_step(self, batch: dict[str, Tensor]) -> None:
        history = model_input(batch, takes_sparse_history(self.model))
        scores = self.model.score(batch["users"], history)  # [B, n_items]
        self._accumulator.add(batch["users"], scores, batch["history"], batch["target"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluation_step(batch)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluation_step(batch)

    def _finish_evaluation(self, stage: str) -> None:
        distributed = self.trainer.world_size > 1
        result = self._accumulator.gather(
            all_gather=self.all_gather if distributed else None,
            reduce_sum=(lambda t: self.trainer.strategy.reduce(t, reduce_op="sum")) if distributed else None,
        )
        self.last_result[stage] = result
        self._accumulator = None
        summary = result.summary(stage)
        if stage == "valid" and not self.trainer.sanity_checking:
            self._keep_if_best(result, summary[self.monitor])
        # Already global over processes, so no further sync is needed. Only the monitor goes
        # through self.log, for early stopping, checkpoints, pruning and the epoch line; the rest
        # (about a hundred keys with segments) goes to the loggers in one call, because self.log
        # costs about half a millisecond a key (55 ms of a 0.4 s epoch on the quick start).
        if self.monitor in summary:
            self.log(self.monitor, summary.pop(self.monitor), sync_dist=False, rank_zero_only=False)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            for logger in self.loggers:
                logger.log_metrics({**summary, "epoch": self.current_epoch}, step=self.global_step)

    def _keep_if_best(self, result: RankingResult, value: float) -> None:
        # Compared as the float32 tensors Lightning logs, so that this picks the same epoch as
        # ModelCheckpoint (whose weights are tested) even when two epochs differ below float32.
        value = torch.tensor(value, dtype=torch.float32)
        if self.best_epoch is None or bool(value > self._best_value):
            self.best_valid, self.best_epoch, self._best_value = result, self.current_epoch, value

    # -- resuming: the best epoch so far is part of the training state ----------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.best_valid is None:
            return
        result = self.best_valid
        # Tensors and plain values only, so the checkpoint loads with weights_only=True.
        checkpoint["recbench_best"] = {
            "epoch": self.best_epoch, "value": self._best_value,
            "users": torch.from_numpy(result.users),
            "per_user": {name: torch.from_numpy(values) for name, values in result.per_user.items()},
            "coverage": dict(result.coverage),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        best = checkpoint.get("recbench_best")
        if best is None:
            return
        self.best_epoch, self._best_value = best["epoch"], best["value"]
        self.best_valid = RankingResult(users=best["users"].numpy(),
                                        per_user={k: v.numpy() for k, v in best["per_user"].items()},
                                        coverage=best["coverage"])

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("valid")

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")


class InteractionDataModule(pl.LightningDataModule):
    """Training batches of the kind the model asks for, and user batches for evaluation.

    Each process builds its own shard from the trainer's rank (``use_distributed_sampler`` is off
    in the trainer configs: recbench's batches shard themselves).

    ``max_len`` (sequence models): evaluation batches also carry each user's time-ordered history
    ``"sequence": [B, max_len]``; ``masking`` is for ``"masked_item"`` batches.
    """

    def __init__(self, split: SplitData, batch_kind: str, batch_size: int, evaluator: Evaluator,
                 seed: int, num_negatives: int = 0, poisson: bool = False, max_len: int | None = None,
                 masking: Masking | None = None):
        super().__init__()
        kinds = ("interactions", "users", *SEQUENCE_BATCH_KINDS)
        if batch_kind not in kinds:
            raise RecbenchError(f"unknown batch_kind {batch_kind!r}: a gradient model must set "
                                f"batch_kind to one of {', '.join(map(repr, kinds))}")
        if batch_kind in SEQUENCE_BATCH_KINDS and max_len is None:
            raise RecbenchError(f"batch_kind {batch_kind!r} is for sequence models: the model must set "
                                "history_kind = 'sequence' and max_len")
        self.split, self.batch_kind = split, batch_kind
        self.batch_size, self.evaluator = batch_size, evaluator
        self.seed, self.num_negatives = seed, num_negatives
        self.poisson = poisson  # Poisson-sampled batches, as DP-SGD's accounting requires
        self.max_len, self.masking = max_len, masking
        self.train_matrix = split.train

    def _shard(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _batch_device(self) -> torch.device:
        """Where interaction batches are built: this process's device (CPU without a trainer)."""
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def train_dataloader(self) -> DataLoader:
        if self.poisson:
            from recbench.privacy.lightning import poisson_batches

            dataset = poisson_batches(self.train_matrix, self.batch_kind, self.batch_size, self.num_negatives,
                                      self.seed)
        elif self.batch_kind == "interactions":
            dataset = InteractionBatches(self.train_matrix, self.batch_size, self.num_negatives, self.seed,
                                         self._batch_device())
        elif self.batch_kind in SEQUENCE_BATCH_KINDS:
            dataset = sequence_batches(self.split, self.batch_kind, self.max_len, self.batch_size, self.seed,
                                       self.num_negatives, self.masking)
        else:
            dataset = UserBatches(self.train_matrix, self.batch_size, self.seed, self._batch_device())
        rank, world_size = self._shard()
        return DataLoader(dataset, batch_size=None, sampler=EpochSampler(len(dataset), rank, world_size))

    def _evaluation_loader(self, stage: str) -> DataLoader:
        history, target = self.split.stage(stage)
        rank, world_size = self._shard()
        sequences = history_sequences(self.split, stage, self.max_len) if self.max_len is not None else None
        return DataLoader(self.evaluator.batches(history, target, rank, world_size, sequences), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader("test")
