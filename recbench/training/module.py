"""The one Lightning module that trains every gradient model, and its data module."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from recbench.data.interactions import SplitData
from recbench.errors import RecbenchError
from recbench.evaluation.evaluator import Evaluator, RankingAccumulator, RankingResult
from recbench.evaluation.ranking import densify
from recbench.training.batches import EpochSampler, InteractionBatches, UserBatches


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
    """

    def __init__(self, model: torch.nn.Module, n_items: int, evaluator: Evaluator,
                 monitor: str = "valid/ndcg@10"):
        super().__init__()
        self.model = model
        self.n_items = n_items
        self.evaluator = evaluator
        self.monitor = monitor
        self.automatic_optimization = not getattr(model, "manual_optimization", False)
        self._accumulator: RankingAccumulator | None = None
        self._loss_not_finite = torch.zeros((), dtype=torch.bool)
        self.last_result: dict[str, RankingResult] = {}
        self.best_valid: RankingResult | None = None
        self.best_epoch: int | None = None

    def configure_optimizers(self):
        try:
            if hasattr(self.model, "configure_optimizers"):
                return self.model.configure_optimizers()
            return self.model.optimizer(self.model.parameters())
        except ValueError as error:  # torch.optim's checks, e.g. "Invalid learning rate: -0.1"
            raise RecbenchError(f"model.optimizer: {error}. Set model.optimizer.lr and "
                                "model.optimizer.weight_decay to values >= 0") from None

    def training_step(self, batch: dict[str, Tensor], batch_idx: int):
        # Optimizer steps taken so far (the same on every DDP process), for schedules such as
        # KL annealing: models read it from the batch instead of keeping a hidden counter.
        batch = {**batch, "step": torch.tensor(self.global_step, device=batch["users"].device)}
        if not self.automatic_optimization:
            loss = self.model.manual_step(batch, self)
        else:
            loss = self.model.loss(batch)
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
        history = densify(batch["history"], len(batch["users"]), self.n_items)  # [B, n_items]
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
        # Already global over processes, so no further sync is needed.
        self.log_dict(summary, prog_bar=False, sync_dist=False, rank_zero_only=False)

    def _keep_if_best(self, result: RankingResult, value: float) -> None:
        # Compared as the float32 tensors Lightning logs, so that this picks the same epoch as
        # ModelCheckpoint (whose weights are tested) even when two epochs differ below float32.
        value = torch.tensor(value, dtype=torch.float32)
        if self.best_epoch is None or bool(value > self._best_value):
            self.best_valid, self.best_epoch, self._best_value = result, self.current_epoch, value

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("valid")

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")


class InteractionDataModule(pl.LightningDataModule):
    """Training batches of the kind the model asks for, and user batches for evaluation.

    Each process builds its own shard from the trainer's rank (``use_distributed_sampler`` is off
    in the trainer configs: recbench's batches shard themselves).
    """

    def __init__(self, split: SplitData, batch_kind: str, batch_size: int, evaluator: Evaluator,
                 seed: int, num_negatives: int = 0):
        super().__init__()
        if batch_kind not in ("interactions", "users"):
            raise RecbenchError(f"unknown batch_kind {batch_kind!r}: a gradient model must set "
                                "batch_kind to 'interactions' or 'users'")
        self.split, self.batch_kind = split, batch_kind
        self.batch_size, self.evaluator = batch_size, evaluator
        self.seed, self.num_negatives = seed, num_negatives
        self.train_matrix = split.train

    def _shard(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        if self.batch_kind == "interactions":
            dataset = InteractionBatches(self.train_matrix, self.batch_size, self.num_negatives, self.seed)
        else:
            dataset = UserBatches(self.train_matrix, self.batch_size, self.seed)
        rank, world_size = self._shard()
        return DataLoader(dataset, batch_size=None, sampler=EpochSampler(len(dataset), rank, world_size))

    def _evaluation_loader(self, stage: str) -> DataLoader:
        history, target = self.split.stage(stage)
        rank, world_size = self._shard()
        return DataLoader(self.evaluator.batches(history, target, rank, world_size), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader("test")
