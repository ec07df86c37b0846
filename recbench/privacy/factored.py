"""Per-sample gradient clipping without materialising per-sample gradients of big layers.

Opacus's hooks store every sample's gradient of every parameter (``p.grad_sample``,
``[B, *p.shape]``). For recommenders that is the costly part: an ``nn.Embedding`` over all items
gives ``[B, n_items, d]`` per step, and Mult-VAE's first layer ``[B, n_items, 600]``. Yet a sample's
gradient of these layers has a product form, and clipping only needs its norm and the clipped sum:

* ``nn.Linear``, called on inputs ``A_s`` ``[T, in]`` with output gradients ``G_s`` ``[T, out]``:
  the weight's gradient is ``G_s^T A_s``, whose squared norm is ``sum((A_s A_s^T) * (G_s G_s^T))``
  (``|a_s|^2 |g_s|^2`` when ``T = 1``), and ``sum_s c_s G_s^T A_s`` is one matrix product;
* ``nn.Embedding``, looked up at indices ``I_s`` ``[T]`` with output gradients ``G_s`` ``[T, d]``:
  the gradient's rows are ``G_s`` summed per distinct index, so its squared norm is
  ``sum_{t,t'} [I_st = I_st'] G_st . G_st'``, and the clipped sum is one ``index_add``.

Several calls of one layer in a forward pass (MF looks items up twice: positives and negatives)
simply concatenate along ``T``. Every other layer keeps Opacus's own per-sample gradients; the
clipping factor of a sample uses its norm over all parameters, exactly as Opacus's DPOptimizer.
The tests check the result against Opacus's materialised per-sample gradients.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recbench.errors import RecbenchError

# One per-sample gradient in product form: (kind, A or indices or None, G), with a leading batch dim.
Factor = tuple[str, Tensor | None, Tensor]


def _as_3d(x: Tensor) -> Tensor:
    """``[B, *, k]`` flattened to ``[B, T, k]`` (sizes spelt out: ``B`` may be 0 in a Poisson batch)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:-1]), x.shape[-1])


def _factors(module: nn.Module, activations: list[Tensor], backprops: Tensor) -> dict[nn.Parameter, Factor]:
    """The product form of each sample's gradient for ``module``'s trainable parameters."""
    found: dict[nn.Parameter, Factor] = {}
    if isinstance(module, nn.Embedding):
        if module.weight.requires_grad:
            looked_up = activations[0]
            indices = looked_up.reshape(looked_up.shape[0], math.prod(looked_up.shape[1:]))  # [B, T]
            found[module.weight] = ("embedding", indices, _as_3d(backprops))  # G [B, T, d]
        return found
    grads = _as_3d(backprops)  # [B, T, out]
    if module.weight.requires_grad:
        found[module.weight] = ("linear", _as_3d(activations[0]), grads)
    if module.bias is not None and module.bias.requires_grad:
        found[module.bias] = ("bias", None, grads)
    return found


def squared_norms(factor: Factor) -> Tensor:
    """Each sample's squared gradient norm ``[B]``."""
    kind, a, g = factor
    if kind == "bias":
        return g.sum(1).pow(2).sum(-1)
    if kind == "embedding":
        same = (a[:, :, None] == a[:, None, :]).to(g.dtype)  # [B, T, T]
        return (same * (g @ g.transpose(1, 2))).sum((1, 2))
    if a.shape[1] == 1:
        return a[:, 0].pow(2).sum(-1) * g[:, 0].pow(2).sum(-1)
    t, width_in, width_out = a.shape[1], a.shape[2], g.shape[2]
    if t * t * (width_in + width_out) <= t * width_in * width_out:
        return ((a @ a.transpose(1, 2)) * (g @ g.transpose(1, 2))).sum((1, 2))
    return torch.einsum("bto,bti->boi", g, a).pow(2).sum((1, 2))  # [B, out, in]: cheaper for large T


def clipped_sum(factor: Factor, scale: Tensor, shape: torch.Size) -> Tensor:
    """``sum_s scale_s * grad_s``, of the parameter's ``shape``."""
    kind, a, g = factor
    g = g * scale[:, None, None]
    if kind == "bias":
        return g.sum((0, 1))
    if kind == "embedding":
        out = torch.zeros(shape, dtype=g.dtype, device=g.device)
        return out.index_add_(0, a.reshape(-1), g.reshape(-1, g.shape[-1]))
    return g.reshape(-1, g.shape[-1]).T @ a.reshape(-1, a.shape[-1])  # [out, in]


def _concat(first: Factor, second: Factor) -> Factor:
    """Two calls of one layer in a forward pass: their terms concatenate along ``T``."""
    kind, a1, g1 = first
    _, a2, g2 = second
    return kind, None if a1 is None else torch.cat([a1, a2], 1), torch.cat([g1, g2], 1)


def factored_hooks_class():
    """:class:`opacus.grad_sample.GradSampleHooks` keeping Linear and Embedding gradients factored."""
    from opacus.grad_sample import GradSampleHooks
    from opacus.utils.module_utils import requires_grad, trainable_parameters

    class FactoredGradSampleHooks(GradSampleHooks):
        FACTORED = (nn.Linear, nn.Embedding)

        def capture_backprops_hook(self, module, _forward_input, forward_output, loss_reduction, batch_first):
            if not requires_grad(module):
                # Frozen for this step (Lightning's toggle_optimizer): no activations were kept.
                return
            if not self.hooks_enabled or type(module) not in self.FACTORED:
                return super().capture_backprops_hook(module, _forward_input, forward_output, loss_reduction,
                                                      batch_first)
            activations, backprops = self.rearrange_grad_samples(
                module=module, backprops=forward_output[0].detach(), loss_reduction=loss_reduction,
                batch_first=batch_first)
            for param, factor in _factors(module, activations, backprops).items():
                previous = getattr(param, "factored_grad_sample", None)
                param.factored_grad_sample = factor if previous is None else _concat(previous, factor)
            for _, p in trainable_parameters(module):
                p._forward_counter -= 1
            if len(module.activations) == 0 and hasattr(module, "max_batch_len"):
                del module.max_batch_len

    return FactoredGradSampleHooks


def factored_optimizer_class():
    """:class:`opacus.optimizers.DPOptimizer` that clips factored and materialised gradients alike."""
    from opacus.optimizers import DPOptimizer

    class FactoredDPOptimizer(DPOptimizer):
        """Clip, noise, scale and account as DPOptimizer; per-sample norms over all parameters.

        ``named`` (set by the caller) maps parameters to names for error messages.
        """

        named: tuple[tuple[str, nn.Parameter], ...] = ()

        @property
        def accumulated_iterations(self) -> int:
            return 1  # recbench steps after every batch (gradient accumulation is rejected up front)

        def _per_sample(self, p: nn.Parameter):
            factor = getattr(p, "factored_grad_sample", None)
            if factor is not None:
                return factor
            dense = getattr(p, "grad_sample", None)
            if dense is not None:
                return torch.cat(dense) if isinstance(dense, list) else dense
            if p.grad is not None:
                name = {id(q): n for n, q in self.named}.get(id(p), "a parameter")
                raise RecbenchError(
                    f"privacy=dp: no per-sample gradient for {name}: the model's loss uses it outside a "
                    "layer's forward call (e.g. layer.weight directly), so it cannot be clipped per sample; "
                    "call the layer (layer(x)) in loss() instead")
            return None  # unused in this batch: its per-sample gradients are zero

        def clip_and_accumulate(self):
            per_sample = [(p, self._per_sample(p)) for p in self.params]
            norms = []
            for _, value in per_sample:
                if isinstance(value, tuple):
                    norms.append(squared_norms(value))
                elif value is not None:
                    norms.append(value.reshape(len(value), -1).pow(2).sum(-1))
            if norms:
                norm = torch.stack(norms, 1).sum(1).sqrt()  # [B]
                scale = (self.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
            for p, value in per_sample:
                if isinstance(value, tuple):
                    grad = clipped_sum(value, scale.to(p.dtype), p.shape)
                elif value is not None:
                    grad = torch.einsum("i,i...", scale.to(p.dtype), value.to(p.dtype))
                else:
                    grad = torch.zeros_like(p)
                p.summed_grad = grad if p.summed_grad is None else p.summed_grad + grad

        def pre_step(self, closure=None):
            if not self.params:
                return True
            self.clip_and_accumulate()
            if self._check_skip_next_step():
                self._is_last_step_skipped = True
                return False
            self.add_noise()
            self.scale_grad()
            if self.step_hook:
                self.step_hook(self)
            self._is_last_step_skipped = False
            return True

        def zero_grad(self, set_to_none: bool = False):
            for p in self.params:
                p.factored_grad_sample = None
            super().zero_grad(set_to_none)

    return FactoredDPOptimizer
