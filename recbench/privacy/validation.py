"""Can Opacus compute every sample's gradient for this plugin? Checked before training starts."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn

from recbench.errors import RecbenchError
from recbench.plugin import is_fit_model


@runtime_checkable
class OneStepPerBatch(Protocol):
    """Optional capability of a manual-optimisation plugin, needed for ``privacy=dp``.

    ``one_step_per_batch = True`` promises that ``manual_step`` takes exactly one optimizer step
    per training batch (RecVAE alternates its encoder and decoder steps, one per batch). The
    accountant counts one noisy step per Poisson-sampled batch; several steps on one batch (a
    GAN's discriminator and generator updates) would be several uses of the same sample that it
    does not count. recbench also checks the promise at run time.
    """

    one_step_per_batch: bool


def private_model_problems(model: nn.Module) -> list[str]:
    """Why DP-SGD cannot train ``model`` as it is: one readable line per module, empty when it can.

    Three things are checked: Opacus's own validator (batch norm mixes samples; some layers have
    no private variant), layers with buffers updated from the data, and trainable parameters held
    directly by a module Opacus has no per-sample gradient rule for. recbench calls the plugin's
    ``loss``, not its ``forward``, so such a module's parameters would get no per-sample gradient.
    """
    from opacus.grad_sample import GradSampleHooks
    from opacus.validators import ModuleValidator

    name = type(model).__name__
    problems = [f"{name}: {error}" for error in ModuleValidator.validate(model, strict=False)]
    supported = GradSampleHooks.GRAD_SAMPLERS
    for path, module in model.named_modules():
        own = [p for p, param in module.named_parameters(recurse=False) if param.requires_grad]
        if not own:
            continue
        where = f"{name}.{path} ({type(module).__name__})" if path else name
        if type(module) not in supported:
            problems.append(
                f"{where} holds trainable parameters {', '.join(own)} itself; "
                "Opacus computes per-sample gradients only for standard layers "
                f"({', '.join(sorted(t.__name__ for t in supported))}): hold them in one of those "
                "(an nn.Embedding for a bias table) or switch them off")
        elif any(True for _ in module.buffers(recurse=False)):
            problems.append(f"{where} keeps buffers computed from the data, which "
                            "DP-SGD does not protect")
    return problems


def check_private_model(model: nn.Module) -> None:
    """Raise one :class:`RecbenchError` listing everything that stops DP training of ``model``."""
    name = type(model).__name__
    if is_fit_model(model):
        raise RecbenchError(f"privacy=dp trains gradient models only; {name} is fitted directly on the "
                            "training matrix (model.fit), which DP-SGD does not cover: choose a gradient model "
                            "(mf, gmf, mlp, neumf, multvae, multdae) or drop privacy=dp")
    if getattr(model, "manual_optimization", False) and not getattr(model, "one_step_per_batch", False):
        raise RecbenchError(
            f"privacy=dp does not support {name}: it steps its own optimizers (manual optimisation), "
            "possibly several times on one batch, while the accountant counts one noisy step per "
            "Poisson-sampled batch. Choose a model trained by automatic optimisation (mf, gmf, mlp, neumf, "
            "multvae, multdae) or one that declares one_step_per_batch = True (recvae), or drop privacy=dp")
    if getattr(model, "sparse_gradients", False):
        raise RecbenchError(f"privacy=dp needs {name}'s gradients per sample, dense: set "
                            "model.sparse_gradients=false (SparseAdam's row-wise updates are not DP-SGD)")
    problems = private_model_problems(model)
    if problems:
        raise RecbenchError(f"privacy=dp: Opacus cannot compute per-sample gradients of {name}: "
                            + "; ".join(problems))
