"""The ``privacy`` config group: DP-SGD settings, checked before any data is read."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from omegaconf import DictConfig

from recbench.errors import RecbenchError, require, require_positive

ACCOUNTANTS = ("rdp", "prv")

# What one Poisson-sampled training sample is, by the model's batch kind.
UNITS = {"users": "user", "interactions": "interaction"}


def privacy_unit(batch_kind: str) -> str:
    """The unit of privacy: ``"user"`` (a whole training row) or ``"interaction"`` (one pair)."""
    require(batch_kind in UNITS, f"DP training needs batch_kind 'users' or 'interactions', got {batch_kind!r}")
    return UNITS[batch_kind]


@dataclass(frozen=True)
class DPSettings:
    """DP-SGD (Abadi et al., CCS 2016) as Opacus implements it; built from ``conf/privacy/dp.yaml``.

    Args:
        target_epsilon: the epsilon to reach after ``trainer.max_epochs`` epochs; the noise
            multiplier is calibrated to it. Give this or ``noise_multiplier``, not both.
        noise_multiplier: the Gaussian noise's standard deviation divided by ``max_grad_norm``.
        delta: the delta of (epsilon, delta)-DP, in (0, 1); well below 1 / number of samples.
        max_grad_norm: every sample's gradient is clipped to this L2 norm.
        accountant: ``rdp`` (Renyi DP, Mironov 2017) or ``prv`` (privacy random variables,
            Gopi et al. 2021, tighter).
    """

    target_epsilon: float | None = None
    noise_multiplier: float | None = None
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    accountant: str = "rdp"

    def __post_init__(self):
        require((self.target_epsilon is None) != (self.noise_multiplier is None),
                "privacy: give exactly one of privacy.target_epsilon and privacy.noise_multiplier "
                f"(got target_epsilon={self.target_epsilon!r}, noise_multiplier={self.noise_multiplier!r}); "
                "set the other to null")
        if self.target_epsilon is not None:
            require_positive("privacy.target_epsilon", self.target_epsilon)
        if self.noise_multiplier is not None:
            require_positive("privacy.noise_multiplier", self.noise_multiplier)
        require(isinstance(self.delta, (int, float)) and not isinstance(self.delta, bool)
                and 0 < self.delta < 1,
                f"privacy.delta must be in (0, 1), got {self.delta!r}: use a value well below "
                "1 / number of training samples, e.g. 1e-5")
        require_positive("privacy.max_grad_norm", self.max_grad_norm)
        require(self.accountant in ACCOUNTANTS,
                f"privacy.accountant must be one of {', '.join(ACCOUNTANTS)}, got {self.accountant!r}")
        if importlib.util.find_spec("opacus") is None:
            raise RecbenchError("privacy=dp needs Opacus: pip install 'recbench[privacy]'")


def check_trainer_for_privacy(trainer: DictConfig, evaluation: DictConfig) -> None:
    """Reject the trainer and evaluation settings DP-SGD cannot honour, before any data is read.

    Each of these would either break per-sample clipping or train on data the accountant does not
    count: several processes (each would need its own share of the noise and of the sampling),
    reduced precision (Opacus clips float32 per-sample gradients), gradient accumulation (several
    Poisson batches per noisy step), Lightning's own gradient clipping (clipping is per sample
    here), Lightning's ``overfit_batches`` (the same batches replayed, not Poisson sampling), and
    the refit on train + valid (a second training whose cost is not accounted).
    """
    problems = []
    strategy = str(trainer.get("strategy") or "auto")
    devices = trainer.get("devices", 1)
    if "ddp" in strategy or (isinstance(devices, int) and devices > 1) or str(devices) in ("-1", "auto"):
        problems.append(f"trainer.strategy={strategy} with trainer.devices={devices} (DP training runs in "
                        "one process: use trainer=cpu or trainer=gpu with devices=1)")
    precision = str(trainer.get("precision") or "32")
    if precision not in ("32", "32-true"):
        problems.append(f"trainer.precision={precision} (use 32)")
    accumulate = trainer.get("accumulate_grad_batches") or 1
    if accumulate != 1:
        problems.append(f"trainer.accumulate_grad_batches={accumulate} (use 1; make model.batch_size larger "
                        "instead)")
    if trainer.get("gradient_clip_val"):
        problems.append(f"trainer.gradient_clip_val={trainer.gradient_clip_val} (remove it: DP clips each "
                        "sample's gradient to privacy.max_grad_norm)")
    if trainer.get("overfit_batches"):
        problems.append(f"trainer.overfit_batches={trainer.overfit_batches} (it replays the same batches every "
                        "epoch, which is not Poisson sampling: remove it)")
    if evaluation.get("refit"):
        problems.append("evaluation.refit=true (the refit is a second training on train + valid whose "
                        "privacy cost is not accounted: set evaluation.refit=false)")
    if problems:
        raise RecbenchError("privacy=dp cannot be used with " + "; ".join(problems))
