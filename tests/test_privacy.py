"""DP-SGD through Opacus: sampling, clipping, calibration and accounting checked independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

pytest.importorskip("opacus")
from opacus.accountants import PRVAccountant, RDPAccountant

from plugins.cfgan import CFGAN
from plugins.ease import EASE
from plugins.mf import MF
from plugins.multdae import MultDAE
from plugins.multvae import MultVAE
from recbench.errors import RecbenchError
from recbench.privacy import DPSettings
from recbench.privacy.engine import PrivateTraining, calibrate_noise
from recbench.privacy.sampling import PoissonInteractionBatches, PoissonUserBatches
from recbench.privacy.validation import check_private_model


def random_matrix(n_users=60, n_items=40, density=0.2, seed=0, empty_rows=()) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density).astype(np.float32)
    dense[list(empty_rows)] = 0
    return sp.csr_matrix(dense)


# -- Poisson sampling ------------------------------------------------------------------------------
def test_poisson_user_batches_include_each_user_independently_at_the_sample_rate():
    train = random_matrix(empty_rows=[5])  # a user without training data is no sample
    batches = PoissonUserBatches(train, batch_size=12, seed=3)
    n = len(np.flatnonzero(np.diff(train.indptr)))
    assert batches.n_samples == n == 59 and batches.sample_rate == pytest.approx(12 / 59)
    assert len(batches) == math.ceil(59 / 12)
    counts, sizes = np.zeros(train.shape[0]), []
    steps = 2000
    for step in range(steps):
        batch = batches[(step // 5, step % 5)]
        users = batch["users"].numpy()
        assert len(np.unique(users)) == len(users)
        np.testing.assert_array_equal(batch["history"].numpy(), train[users].toarray())
        counts[users] += 1
        sizes.append(len(users))
    assert counts[5] == 0
    q = 12 / 59
    # Each user's inclusion count is Binomial(steps, q): within 5 standard deviations.
    spread = 5 * math.sqrt(steps * q * (1 - q))
    assert np.all(np.abs(np.delete(counts, 5) - steps * q) < spread)
    # Batch sizes vary (Binomial(59, q)), as Poisson sampling requires, around the batch size.
    assert np.var(sizes) == pytest.approx(59 * q * (1 - q), rel=0.2)
    assert np.mean(sizes) == pytest.approx(12, rel=0.05)


def test_poisson_interaction_batches_are_reproducible_and_use_uniform_negatives():
    train = random_matrix(density=0.5)
    batches = PoissonInteractionBatches(train, batch_size=100, num_negatives=3, seed=1)
    again = PoissonInteractionBatches(train, batch_size=100, num_negatives=3, seed=1)
    first, second = batches[(2, 1)], again[(2, 1)]
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    assert not torch.equal(batches[(2, 2)]["users"], first["users"])
    assert train[np.array(first["users"]), np.array(first["items"])].all()  # positives are training pairs
    # Negatives are not rejected against the user's items: with density 0.5 about half are known.
    negatives = torch.cat([batches[(0, s)]["negatives"] for s in range(len(batches))])
    users = torch.cat([batches[(0, s)]["users"] for s in range(len(batches))])
    known = np.asarray(train[np.repeat(np.array(users), 3), np.array(negatives.view(-1))]).ravel()
    assert 0.4 < known.mean() < 0.6


# -- calibration and accounting ---------------------------------------------------------------------
@pytest.mark.parametrize("accountant, reference", [("rdp", RDPAccountant), ("prv", PRVAccountant)])
def test_the_calibrated_noise_reaches_the_target_epsilon(accountant, reference):
    settings = DPSettings(target_epsilon=4.0, delta=1e-5, accountant=accountant)
    sigma = calibrate_noise(settings, sample_rate=0.05, steps=100)
    independent = reference()
    independent.history = [(sigma, 0.05, 100)]
    epsilon = independent.get_epsilon(delta=1e-5)
    assert epsilon <= 4.0 and epsilon == pytest.approx(4.0, abs=0.05)
    # Less noise would overspend: the multiplier is the smallest that fits (to the search tolerance).
    independent.history = [(sigma * 0.97, 0.05, 100)]
    assert independent.get_epsilon(delta=1e-5) > 4.0


def test_an_unreachable_target_is_a_readable_error():
    with pytest.raises(RecbenchError, match="cannot be reached"):
        calibrate_noise(DPSettings(target_epsilon=1e-9, delta=1e-12), sample_rate=1.0, steps=10_000)


# -- per-sample clipping ------------------------------------------------------------------------------
def per_sample_gradients(model: nn.Module, batch: dict, params: list) -> torch.Tensor:
    """Each sample's gradient of its own loss, flattened ``[B, n_params]`` (one backward per sample)."""
    rows = []
    for i in range(len(batch["users"])):
        one = {key: value[i:i + 1] for key, value in batch.items()}
        grads = torch.autograd.grad(model.loss({**one, "step": torch.tensor(0)}), params, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params)]))
    return torch.stack(rows)


@pytest.mark.parametrize("kind", ["users", "interactions"])
def test_every_sample_gradient_is_clipped_to_max_grad_norm(kind):
    """Opacus's clip step on a real batch equals clipping hand-computed per-sample gradients."""
    torch.manual_seed(0)
    train = random_matrix()
    if kind == "users":
        model = MultDAE(60, 40, latent_dim=8, dropout=0.0, batch_size=20)  # deterministic loss
        data = PoissonUserBatches(train, 20, seed=0)
    else:
        model = MF(60, 40, embedding_dim=8, item_bias=False, num_negatives=2, batch_size=40)
        data = PoissonInteractionBatches(train, 40, 2, seed=0)
    max_grad_norm = 0.05
    private = PrivateTraining(DPSettings(noise_multiplier=1.0, max_grad_norm=max_grad_norm), model, kind,
                              data.n_samples, model.batch_size, max_epochs=1, seed=0)
    optimizer = private.make_private(torch.optim.SGD(model.parameters(), lr=0.1))
    params = [p for p in model.parameters() if p.requires_grad]
    batch = data[(0, 0)]
    expected = per_sample_gradients(model, batch, params)  # [B, P]
    norms = expected.norm(dim=1)
    assert (norms > max_grad_norm).all(), "the bound must bind for the test to mean anything"
    clipped_sum = (expected * (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)[:, None]).sum(0)

    optimizer.zero_grad()
    model.loss({**batch, "step": torch.tensor(0)}).backward()
    optimizer.clip_and_accumulate()  # the DPOptimizer's own step, before the noise
    summed = torch.cat([p.summed_grad.reshape(-1) for p in params])
    torch.testing.assert_close(summed, clipped_sum, rtol=1e-4, atol=1e-6)
    assert summed.norm() <= len(batch["users"]) * max_grad_norm + 1e-5


def clipped_sums(model, batch, hooks_class, optimizer_class) -> list[torch.Tensor]:
    """Each parameter's sum of clipped per-sample gradients after one backward pass."""
    hooks = hooks_class(model, batch_first=True, loss_reduction="mean", strict=True)
    optimizer = optimizer_class(torch.optim.SGD(model.parameters(), lr=0.1), noise_multiplier=1.0,
                                max_grad_norm=0.05, expected_batch_size=len(batch["users"]))
    optimizer.zero_grad()
    model.loss({**batch, "step": torch.tensor(0)}).backward()
    optimizer.clip_and_accumulate()
    sums = [p.summed_grad.clone() for p in optimizer.params]
    optimizer.zero_grad()
    hooks.cleanup()
    return sums


@pytest.mark.parametrize("name", ["mlp", "mf", "multvae", "recvae"])
def test_factored_clipping_equals_opacus_materialised_per_sample_gradients(name):
    """Product-form norms and sums (Linear with extra dims, repeated and duplicate embedding
    lookups, LayerNorm left to Opacus) match Opacus's own per-sample gradients."""
    from opacus.grad_sample import GradSampleHooks
    from opacus.optimizers import DPOptimizer

    from plugins.mlp import MLP
    from plugins.recvae import RecVAE
    from recbench.privacy.factored import factored_hooks_class, factored_optimizer_class

    train = random_matrix(n_items=12, density=0.4)
    build = {"mlp": lambda: MLP(60, 12, embedding_dim=4, hidden_dims=[6, 3], num_negatives=4),
             "mf": lambda: MF(60, 12, embedding_dim=4, item_bias=False, num_negatives=6),
             "multvae": lambda: MultVAE(60, 12, hidden_dims=[5], latent_dim=3, dropout=0.0),
             "recvae": lambda: RecVAE(60, 12, hidden_dim=5, latent_dim=3, dropout=0.0)}[name]
    if name in ("mlp", "mf"):
        batch = PoissonInteractionBatches(train, 30, 6 if name == "mf" else 4, seed=2)[(0, 0)]
        negatives = batch["negatives"]
        assert (negatives[:, :, None] == negatives[:, None, :]).sum() > negatives.numel()  # duplicates
    else:
        batch = PoissonUserBatches(train, 30, seed=2)[(0, 0)]
    sums = []
    for hooks_class, optimizer_class in [(GradSampleHooks, DPOptimizer),
                                         (factored_hooks_class(), factored_optimizer_class())]:
        torch.manual_seed(0)
        model = build()
        torch.manual_seed(1)  # the same reparameterisation noise in both runs
        sums.append(clipped_sums(model, batch, hooks_class, optimizer_class))
    for opacus_sum, factored_sum in zip(*sums):
        torch.testing.assert_close(factored_sum, opacus_sum, rtol=1e-4, atol=1e-6)


def test_a_noisy_step_is_accounted_at_the_sample_rate():
    train = random_matrix()
    model = MultDAE(60, 40, latent_dim=8, batch_size=15)
    data = PoissonUserBatches(train, 15, seed=0)
    private = PrivateTraining(DPSettings(noise_multiplier=0.9, delta=1e-4), model, "users", data.n_samples, 15,
                              max_epochs=1, seed=0)
    optimizer = private.make_private(torch.optim.SGD(model.parameters(), lr=0.1))
    for step in range(len(data)):
        optimizer.zero_grad()
        model.loss({**data[(0, step)], "step": torch.tensor(step)}).backward()
        optimizer.step()
    independent = RDPAccountant()
    independent.history = [(0.9, 15 / 60, 4)]
    assert private.steps == 4
    assert private.epsilon() == pytest.approx(independent.get_epsilon(delta=1e-4), rel=1e-9)


# -- what Opacus cannot handle ----------------------------------------------------------------------
class BatchNormVAE(MultVAE):
    def __init__(self, n_users, n_items):
        super().__init__(n_users, n_items, hidden_dims=[8], latent_dim=4)
        self.norm = nn.BatchNorm1d(8)


@pytest.mark.parametrize("model, message", [
    (lambda: MF(10, 20), "MF holds trainable parameters item_bias itself"),
    (lambda: MF(10, 20, item_bias=False, sparse_gradients=True), "set model.sparse_gradients=false"),
    (lambda: BatchNormVAE(10, 20), "BatchNorm"),
    (lambda: CFGAN(10, 20), "does not support CFGAN: it steps its own optimizers"),
    (lambda: EASE(10, 20), "EASE is fitted directly on the training matrix"),
])
def test_models_opacus_cannot_handle_are_named(model, message):
    with pytest.raises(RecbenchError, match=message):
        check_private_model(model())


@pytest.mark.parametrize("kwargs, message", [
    ({"target_epsilon": 0.0}, "privacy.target_epsilon must be a positive number"),
    ({"target_epsilon": -1.0}, "privacy.target_epsilon must be a positive number"),
    ({"target_epsilon": 1.0, "delta": 0.0}, "privacy.delta must be in (0, 1)"),
    ({"target_epsilon": 1.0, "delta": 1.0}, "privacy.delta must be in (0, 1)"),
    ({"target_epsilon": 1.0, "noise_multiplier": 1.0}, "exactly one of"),
    ({"target_epsilon": 1.0, "max_grad_norm": 0}, "privacy.max_grad_norm must be a positive number"),
    ({"target_epsilon": 1.0, "accountant": "gdp"}, "privacy.accountant must be one of rdp, prv"),
])
def test_bad_privacy_settings(kwargs, message):
    with pytest.raises(RecbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DPSettings(**kwargs)


def test_an_empty_poisson_batch_still_takes_a_noisy_accounted_step():
    """A Poisson batch may be empty: the step adds pure noise (clipped sum 0) and is accounted."""
    model = MF(10, 20, embedding_dim=4, item_bias=False, embedding_reg=0.1)
    private = PrivateTraining(DPSettings(noise_multiplier=1.0), model, "interaction", 10, 5, max_epochs=1, seed=0)
    optimizer = private.make_private(torch.optim.SGD(model.parameters(), lr=1.0))
    before = [p.detach().clone() for p in model.parameters()]
    empty = torch.zeros(0, dtype=torch.long)
    optimizer.zero_grad()
    model.loss({"users": empty, "items": empty, "negatives": empty.view(0, 1), "step": torch.tensor(0)}).backward()
    optimizer.step()
    assert private.steps == 1
    for p, old in zip(model.parameters(), before):
        assert torch.count_nonzero(p.summed_grad) == 0
        # SGD with lr 1: the update is the noise / expected batch size, std 1 * max_grad_norm / 5.
        assert torch.isfinite(p).all() and (p - old).std().item() == pytest.approx(0.2, rel=0.3)


def test_the_privacy_section_survives_results_json_and_the_wandb_summary():
    from recbench.record import Privacy, RunRecord

    privacy = Privacy(epsilon=3.9, delta=1e-5, unit="user", accountant="prv", noise_multiplier=1.2,
                      max_grad_norm=1.0, sample_rate=0.1, steps=200, target_epsilon=4.0, opacus_version="1.6.0")
    record = RunRecord(model="multvae", dataset="ml-100k", split="random", seed=1,
                       metrics={"test/ndcg@10": 0.1}, privacy=privacy)
    assert RunRecord.from_json(record.to_json()).privacy == privacy
    summary = record.summary()
    assert summary["privacy/epsilon"] == 3.9 and summary["privacy/unit"] == "user"
    assert RunRecord.from_summary({}, summary).privacy == privacy
    # Runs without DP, and files written before the section existed, have none.
    plain = RunRecord(model="pop", dataset="ml-100k", split="random", seed=1, metrics={"test/ndcg@10": 0.1})
    assert plain.to_json()["privacy"] is None and RunRecord.from_json(plain.to_json()).privacy is None
    old = plain.to_json()
    del old["privacy"]
    assert RunRecord.from_json(old).privacy is None and "privacy/epsilon" not in plain.summary()
