"""DP-SGD for one training run: per-sample gradients, noisy optimizers and the privacy accountant.

recbench builds the pieces that Opacus's ``PrivacyEngine.make_private`` would build, but from the
true sample rate and step count of its own Poisson-sampled batches (``make_private`` derives them
from a per-sample ``DataLoader``, which recbench's whole-tensor batches are not):

* Opacus's :class:`~opacus.grad_sample.GradSampleHooks` attach per-sample gradient hooks to the
  plugin without wrapping it, so its ``loss``/``score`` methods and checkpoint keys stay as they
  are; Linear and Embedding gradients stay in product form (:mod:`recbench.privacy.factored`);
* each optimizer becomes an Opacus :class:`~opacus.optimizers.DPOptimizer` (clip every sample's
  gradient to ``max_grad_norm``, add Gaussian noise of std ``noise_multiplier * max_grad_norm``,
  divide by the expected batch size);
* the accountant is told ``(noise_multiplier, sample_rate)`` at every noisy step.
"""

from __future__ import annotations

import math
from importlib import metadata

import pytorch_lightning as pl
import torch
from torch import nn

from recbench.errors import RecbenchError
from recbench.privacy.factored import factored_hooks_class, factored_optimizer_class
from recbench.privacy.settings import DPSettings
from recbench.record import Privacy


def calibrate_noise(settings: DPSettings, sample_rate: float, steps: int) -> float:
    """The noise multiplier that spends ``settings.target_epsilon`` in ``steps`` steps (or the fixed one)."""
    if settings.noise_multiplier is not None:
        return float(settings.noise_multiplier)
    from opacus.accountants.utils import get_noise_multiplier

    try:
        return float(get_noise_multiplier(target_epsilon=settings.target_epsilon, target_delta=settings.delta,
                                          sample_rate=sample_rate, steps=steps, accountant=settings.accountant))
    except ValueError as error:  # "The privacy budget is too low."
        raise RecbenchError(f"privacy.target_epsilon={settings.target_epsilon} cannot be reached in {steps} steps "
                            f"at sample rate {sample_rate:.4g} ({error}): raise privacy.target_epsilon or "
                            "privacy.delta, or train fewer epochs") from None


class PrivateTraining:
    """DP-SGD for one model and one training set: attach, wrap the optimizers, account.

    Args:
        settings: the ``privacy`` config.
        model: the plugin (checked with :func:`recbench.privacy.validation.check_private_model`).
        unit: the unit of privacy, ``"user"`` or ``"interaction"``.
        n_samples: training samples of that unit (Poisson sampling's population).
        batch_size: the expected batch size; the sample rate is ``batch_size / n_samples``.
        max_epochs: the epochs the noise is calibrated for (``target_epsilon``).
        seed: seeds the noise.
    """

    def __init__(self, settings: DPSettings, model: nn.Module, unit: str, n_samples: int, batch_size: int,
                 max_epochs: int, seed: int):
        from opacus.accountants import create_accountant

        if n_samples == 0:
            raise RecbenchError("privacy=dp: the training split has no samples to train on")
        self.settings, self.model, self.unit, self.seed = settings, model, unit, seed
        self.sample_rate = min(1.0, batch_size / n_samples)
        self.expected_batch_size = batch_size
        self.steps_per_epoch = math.ceil(n_samples / batch_size)
        self.noise_multiplier = calibrate_noise(settings, self.sample_rate, max_epochs * self.steps_per_epoch)
        self.accountant = create_accountant(mechanism=settings.accountant)
        self._optimizers = 0  # optimizers wrapped so far (each gets its own noise stream)
        self.hooks = factored_hooks_class()(model, batch_first=True, loss_reduction="mean", strict=True)

    def make_private(self, optimizer):
        """Wrap one optimizer of the plugin's parameters as a noisy, clipping, accounted optimizer."""
        device = next(p.device for group in optimizer.param_groups for p in group["params"])
        # Each optimizer (RecVAE has two) draws its own noise: the same stream twice would correlate
        # the noise of different steps, which the accounting assumes independent.
        noise_seed = hash(("dp-noise", self.seed, self._optimizers)) & 0x7FFF_FFFF_FFFF_FFFF
        self._optimizers += 1
        names = {id(p): n for n, p in self.model.named_parameters()}
        private = factored_optimizer_class()(
            optimizer, noise_multiplier=self.noise_multiplier, max_grad_norm=self.settings.max_grad_norm,
            expected_batch_size=self.expected_batch_size, loss_reduction="mean",
            generator=torch.Generator(device=device).manual_seed(noise_seed))
        private.named = tuple((names.get(id(p), "?"), p) for group in optimizer.param_groups for p in group["params"])
        private.attach_step_hook(self.accountant.get_optimizer_hook_fn(sample_rate=self.sample_rate))
        return private

    @property
    def steps(self) -> int:
        """Noisy steps taken so far."""
        return sum(entry[2] for entry in self.accountant.history)

    def epsilon(self) -> float:
        """Epsilon spent so far at ``settings.delta`` (0 before the first step)."""
        if not self.accountant.history:
            return 0.0
        return float(self.accountant.get_epsilon(delta=self.settings.delta))

    def record(self) -> Privacy:
        """The run record's ``privacy`` section."""
        return Privacy(
            epsilon=self.epsilon(), delta=self.settings.delta, unit=self.unit, accountant=self.settings.accountant,
            noise_multiplier=self.noise_multiplier, max_grad_norm=self.settings.max_grad_norm,
            sample_rate=self.sample_rate, steps=self.steps, target_epsilon=self.settings.target_epsilon,
            opacus_version=metadata.version("opacus"))

    def detach(self) -> None:
        """Remove the hooks and the per-sample attributes Opacus put on the parameters."""
        self.hooks.cleanup()


class EpsilonLogger(pl.Callback):
    """Logs ``privacy/epsilon``, the budget spent so far, at the end of every training epoch.

    It also holds every training batch to one noisy step, as the accounting assumes (a model that
    promised ``one_step_per_batch`` and broke it ends the run before anything is saved).
    """

    def __init__(self, private: PrivateTraining):
        self.private = private
        self._steps_before = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._steps_before = self.private.steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        taken = self.private.steps - self._steps_before
        if taken > 1:
            raise RecbenchError(
                f"privacy=dp: {type(self.private.model).__name__} took {taken} optimizer steps on one training "
                "batch; DP-SGD's accounting here counts one noisy step per Poisson-sampled batch. Its "
                "manual_step must step one optimizer per batch (or set one_step_per_batch = False)")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pl_module.log("privacy/epsilon", self.private.epsilon(), on_step=False, on_epoch=True)
