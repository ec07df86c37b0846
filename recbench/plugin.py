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
    generators);
  - ``"next_item"`` (sequence models): ``{"users": [B], "sequence": [B, L], "target": [B, L]}``,
    windows of each user's training items in time order where every position predicts the next
    item, plus ``"negatives": [B, L, num_negatives]`` when ``num_negatives > 0``;
  - ``"masked_item"`` (sequence models): ``{"users": [B], "sequence": [B, L], "masked": [B, L]}``,
    with random positions (probability ``mask_prob``) to predict.

  Every training batch also carries ``"step"``: the number of optimizer steps taken so far, an
  int64 scalar tensor (for schedules such as KL annealing).

  A gradient model holds ``optimizer`` (a partial taking the parameters), ``batch_size`` and,
  for ``"interactions"``, ``num_negatives``. A model that needs several optimisers sets
  ``manual_optimization = True`` and provides ``configure_optimizers()`` and
  ``manual_step(batch, module)`` (see Lightning's manual optimisation).

Optional capability, **sequence models**: a plugin that sets the class attribute
``history_kind = "sequence"`` and an integer ``max_len`` reads each user's history in time order.
Its ``score(users, history)`` then receives ``history`` as int64 ``[B, L]`` (``L <= max_len``):
the user's latest items, oldest first, left-aligned and padded on the right with
:data:`recbench.data.sequences.PAD` (-1); the training items when validating, training and
validation items when testing. A fitted sequence model is fitted as ``fit(train, sequences)``
with each user's training items in time order (:class:`recbench.data.sequences.Sequences`).
Such a plugin needs a split with ``time_ordered = True`` (``leave_one_out``, ``temporal``,
``predefined``); the evaluator still masks known items from the dense rows.

A plugin never ranks, masks or computes metrics: the evaluator does that for every model alike.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import scipy.sparse as sp
from torch import Tensor

BatchKind = Literal["interactions", "users", "next_item", "masked_item"]
HistoryKind = Literal["rows", "sequence"]


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


def is_fit_model(model: object) -> bool:
    """True when ``model`` follows the fit path (it has a ``fit`` method)."""
    return callable(getattr(model, "fit", None))


def reads_sequences(model: object) -> bool:
    """True when ``model`` (an instance or a class) scores from time-ordered histories."""
    return getattr(model, "history_kind", "rows") == "sequence"


def model_name(target: str) -> str:
    """The user-facing name of a plugin from its ``_target_``: the module's last component."""
    parts = target.split(".")
    return parts[-2] if len(parts) >= 2 else parts[-1]
