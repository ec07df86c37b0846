"""The model plugin contract: what recbench asks of a model, and nothing more.

A plugin is a ``torch.nn.Module`` built by Hydra as
``instantiate(cfg.model, n_users=..., n_items=...)`` whose other constructor arguments are flat
hyperparameters with defaults. Every plugin is a :class:`Scorer`; it is trained one of two ways:

* :class:`FitModel` — has ``fit(train)``: closed-form or iterative fitting on the training CSR
  matrix, outside any Lightning loop (popularity, KNN, EASE, iALS...). Learned state lives in
  registered buffers so that ``.to(device)`` and ``state_dict`` work.
* :class:`GradientModel` — has ``loss(batch)``: trained by recbench's single Lightning module on
  batches the model names with ``batch_kind``:

  - ``"interactions"``: ``{"users": [B], "items": [B], "negatives": [B, num_negatives]}``,
    one training interaction per row with uniformly sampled items the user has not seen;
  - ``"users"``: ``{"users": [B], "history": [B, n_items]}``, whole training rows (autoencoders,
    generators).

  Every training batch also carries ``"step"``: the number of optimizer steps taken so far, an
  int64 scalar tensor (for schedules such as KL annealing).

  A gradient model holds ``optimizer`` (a partial taking the parameters), ``batch_size`` and,
  for ``"interactions"``, ``num_negatives``. A model that needs several optimisers sets
  ``manual_optimization = True`` and provides ``configure_optimizers()`` and
  ``manual_step(batch, module)`` (see Lightning's manual optimisation).

A plugin never ranks, masks or computes metrics: the evaluator does that for every model alike.

Optional capabilities a plugin may declare as class attributes (``recbench recommend`` and
``recbench explain`` read them; a plugin without them works as before):

* ``folds_in_history = True``: ``score`` depends on the user only through ``history``, so it can
  score a user it never saw from a given history (item-based models, autoencoders).
* ``linear_in_history = True``: ``score(history) = history @ W`` for some item-item matrix W, so
  an item's score is exactly a sum of contributions of the history items (EASE, SLIM, ItemKNN).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import scipy.sparse as sp
from torch import Tensor

BatchKind = Literal["interactions", "users"]


@runtime_checkable
class Scorer(Protocol):
    """Scores every item for a batch of users."""

    def score(self, users: Tensor, history: Tensor) -> Tensor:
        """Score all items.

        Args:
            users: user indices, int64 ``[B]``.
            history: the users' known interactions, float ``[B, n_items]`` (1 = interacted),
                on the model's device. Models that embed users may ignore it; autoencoders and
                neighbourhood models score from it.

        Returns:
            Scores ``[B, n_items]``, higher is better. Known items need not be masked.
        """


@runtime_checkable
class FitModel(Scorer, Protocol):
    """A model fitted directly on the training matrix."""

    def fit(self, train: sp.csr_matrix) -> None:
        """Fit on the binary training matrix ``[n_users, n_items]``."""


@runtime_checkable
class GradientModel(Scorer, Protocol):
    """A model trained by gradient descent in recbench's Lightning module."""

    batch_kind: BatchKind
    batch_size: int

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The scalar training loss of one batch (see the module docstring for batch layouts)."""


def folds_in_history(model: object) -> bool:
    """True when the model can score an unseen user from their history alone."""
    return bool(getattr(model, "folds_in_history", False))


def linear_in_history(model: object) -> bool:
    """True when the model's scores are a sum over history items (exact explanations)."""
    return bool(getattr(model, "linear_in_history", False))


def is_fit_model(model: object) -> bool:
    """True when ``model`` follows the fit path (it has a ``fit`` method)."""
    return callable(getattr(model, "fit", None))


def model_name(target: str) -> str:
    """The user-facing name of a plugin from its ``_target_``: the module's last component."""
    parts = target.split(".")
    return parts[-2] if len(parts) >= 2 else parts[-1]
