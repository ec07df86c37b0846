"""Where DP-SGD meets the Lightning path: the training set, the optimizers and the epsilon log."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from torch import nn
from torch.utils.data import Dataset

from recbench.privacy.engine import PrivateTraining
from recbench.privacy.sampling import PoissonInteractionBatches, PoissonUserBatches
from recbench.privacy.settings import DPSettings, privacy_unit
from recbench.privacy.validation import check_private_model


def n_samples(train: sp.csr_matrix, batch_kind: str) -> int:
    """Poisson sampling's population: users with training data, or training interactions."""
    return int(np.count_nonzero(np.diff(train.indptr))) if batch_kind == "users" else int(train.nnz)


def private_training(settings: DPSettings, model: nn.Module, train: sp.csr_matrix, max_epochs: int,
                     seed: int) -> PrivateTraining:
    """Check that ``model`` can be trained privately and attach DP-SGD to it."""
    check_private_model(model)
    return PrivateTraining(settings, model, privacy_unit(model.batch_kind), n_samples(train, model.batch_kind),
                           model.batch_size, max_epochs, seed)


def poisson_batches(train: sp.csr_matrix, batch_kind: str, batch_size: int, num_negatives: int,
                    seed: int) -> Dataset:
    """The Poisson-sampled counterpart of the usual training batches of ``batch_kind``."""
    if batch_kind == "users":
        return PoissonUserBatches(train, batch_size, seed)
    return PoissonInteractionBatches(train, batch_size, num_negatives, seed)


def make_private(configured, private: PrivateTraining):
    """Wrap every optimizer in what ``configure_optimizers`` returned (one, a list, or a dict)."""
    if isinstance(configured, dict):
        return {**configured, "optimizer": private.make_private(configured["optimizer"])}
    if isinstance(configured, (list, tuple)):
        return [make_private(item, private) for item in configured]
    return private.make_private(configured)
