"""From a dataset config to encoded :class:`Interactions`."""

from __future__ import annotations

from omegaconf import DictConfig

from recbench.config import build
from recbench.data.interactions import Interactions
from recbench.data.preprocess import preprocess


def load_dataset(dataset: DictConfig) -> Interactions:
    """Read the dataset described by ``dataset`` (the ``dataset`` config group) and preprocess it.

    ``dataset.source`` is instantiated; it returns an interaction frame (columns user, item,
    rating, timestamp) or ``(frame, item_info)``.
    """
    loaded = build(dataset.source, "dataset")
    frame, item_info = loaded if isinstance(loaded, tuple) else (loaded, None)
    frame = preprocess(frame, **dataset.get("preprocess", {}))
    return Interactions.from_frame(frame, item_info)
