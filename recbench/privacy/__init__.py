"""Differentially private training (DP-SGD through Opacus), an optional capability.

``privacy=dp`` trains a gradient model with per-sample gradient clipping and Gaussian noise on
Poisson-sampled batches, and records the privacy budget (epsilon, delta) that was spent. Opacus is
an optional dependency (``pip install recbench[privacy]``), imported only when DP is asked for.
See ``docs/privacy.md`` for what the guarantee covers and what it does not.
"""

from recbench.privacy.settings import (
    DPSettings,
    check_trainer_for_privacy,
    privacy_unit,
)

__all__ = ["DPSettings", "check_trainer_for_privacy", "privacy_unit"]
