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
    with random positions to predict; the model's ``mask_prob``, ``mask_last_prob`` and
    ``window_stride`` say how (:class:`~recbench.training.sequence_batches.Masking`).

  Every training batch also carries ``"step"``: the number of optimizer steps taken so far, an
  int64 scalar tensor on the CPU (for schedules such as KL annealing; device ops take it as a
  number, without a copy).

  A gradient model holds ``optimizer`` (a partial taking the parameters), ``batch_size`` and,
  for ``"interactions"``, ``num_negatives``. A model that needs several optimisers sets
  ``manual_optimization = True`` and provides ``configure_optimizers()`` and
  ``manual_step(batch, module)`` (see Lightning's manual optimisation).

  Differentially private training (``privacy=dp``, docs/privacy.md) needs nothing more from a
  plugin whose layers Opacus supports and whose ``loss`` is a mean of per-sample terms. A manual-
  optimisation plugin may declare the optional capability ``one_step_per_batch = True``
  (:class:`recbench.privacy.validation.OneStepPerBatch`) to be trained privately.
Side information (optional). A plugin that uses item or user features declares the class
attribute ``feature_inputs = ("item",)`` (any of ``"item"``, ``"user"``) and takes the constructor
keyword arguments ``item_features`` / ``user_features`` (:class:`FeatureTensors` or None). Its YAML
may choose fields with ``item_fields`` / ``user_fields`` (a list, or null for all the dataset has).
recbench builds it as ``instantiate(cfg.model, n_users=..., n_items=..., item_features=...)``; the
plugin keeps the tensors as non-persistent buffers, so they follow ``.to(device)`` and stay out of
checkpoints. A plugin whose config has ``use_features`` gets features only when it is true. Cold
items (no training interaction) and cold users are scored through ``score`` like any other: from
their features alone. Plugins without ``feature_inputs`` are built exactly as before.
A plugin may choose the sides in its config instead: a key ``feature_inputs: [item, user]`` (a
constructor argument too) overrides the class attribute.

A gradient model may also define ``prepare(train)``: recbench calls it with the binary training
matrix ``[n_users, n_items]`` (CSR) before every fit, so that a model can tell which users and
items have no training interactions (cold ids, scored from their side features alone).

Optional capability, **sequence models**: a plugin that sets the class attribute
``history_kind = "sequence"`` and an integer ``max_len`` reads each user's history in time order.
Its ``score(users, history)`` then receives ``history`` as int64 ``[B, L]`` (``L <= max_len``):
the user's latest items, oldest first, left-aligned and padded on the right with
:data:`recbench.data.sequences.PAD` (-1); the training items when validating, training and
validation items when testing. A fitted sequence model is fitted as ``fit(train, sequences)``
with each user's training items in time order (:class:`recbench.data.sequences.Sequences`).
Such a plugin needs a split with ``time_ordered = True`` (``leave_one_out``, ``temporal``,
``predefined``); the evaluator still masks known items from the batch's history.

A plugin never ranks, masks or computes metrics: the evaluator does that for every model alike.

Optional capabilities a plugin may declare as class attributes (``recbench recommend`` and
``recbench explain`` read them; a plugin without them works as before):

* ``folds_in_history = True``: ``score`` depends on the user only through ``history``, so it can
  score a user it never saw from a given history (item-based models, autoencoders).
* ``linear_in_history = True``: ``score(history) = history @ W`` for some item-item matrix W, so
  an item's score is exactly a sum of contributions of the history items (EASE, SLIM, ItemKNN).
* ``sparse_history = True``: ``score`` also takes ``history`` as a coalesced sparse COO tensor
  ``[B, n_items]`` (the user's interactions), and the evaluator then hands it over as it holds it
  instead of densifying it. For models that turn the history back into sparse rows for a
  sparse product (neighbourhood models, SLIM, EASE): at ML-20M's size densifying a batch and
  finding its nonzeros again cost more than ItemKNN's product itself. Every other caller still
  passes dense rows, so such a model takes both (the conformance kit checks they score alike).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import scipy.sparse as sp
from torch import Tensor

BatchKind = Literal["interactions", "users", "next_item", "masked_item"]
HistoryKind = Literal["rows", "sequence"]
FEATURE_SIDES = ("item", "user")
# Model config keys that recbench reads (to choose the features) and does not pass to the plugin.
FEATURE_FIELD_KEYS = ("item_fields", "user_fields")


class FeatureTensors(NamedTuple):
    """Side information of every item (or user), aligned to its index.

    Attributes:
        values: float32 ``[n, dim]``; rows of ids without features are zero.
        mask: bool ``[n]``; True where the id has at least one feature.
    """

    values: Tensor
    mask: Tensor


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


def takes_sparse_history(model: object) -> bool:
    """True when the model's ``score`` also takes the history as a sparse COO tensor."""
    return bool(getattr(model, "sparse_history", False))


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


def feature_sides(model_class: type, use_features: bool | None = None,
                  configured: Sequence[str] | None = None) -> tuple[str, ...]:
    """Which sides' features recbench passes to a plugin class (empty: none).

    Args:
        model_class: the plugin class.
        use_features: the config's ``use_features`` when it has one: false turns features off;
            true with no class-level ``feature_inputs`` passes every side the constructor takes.
        configured: the config's ``feature_inputs`` when it has one: it overrides the class's.
    """
    if use_features is False:
        return ()
    if configured is not None:
        return tuple(configured)
    declared = getattr(model_class, "feature_inputs", None)
    if declared is None and not use_features:
        return ()
    accepted = inspect.signature(model_class).parameters
    if declared is None:
        return tuple(side for side in FEATURE_SIDES if f"{side}_features" in accepted)
    return tuple(declared)
