"""hybridmf and dropoutnet: losses by hand, cold ids scored from features alone, cold-start learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import scipy.sparse as sp
import torch

from plugins.dropoutnet import DropoutNet
from plugins.hybridmf import HybridMF
from plugins.mlp import MLP
from plugins.neumf import NeuMF
from plugins.pop import Pop
from recbench.data.interactions import Interactions, Role, SplitData
from recbench.errors import RecbenchError
from recbench.experiment import train
from recbench.feature_layers import FeatureProjection, ranking_loss
from recbench.plugin import FeatureTensors
from recbench.testing import check_plugin
from recbench.training.module import InteractionDataModule, RecommenderModule
from tests.helpers import compose_config


def features(values) -> FeatureTensors:
    values = torch.as_tensor(values, dtype=torch.float32)
    return FeatureTensors(values, values.abs().sum(1) > 0)


# -- losses -------------------------------------------------------------------------------------

POSITIVE = torch.tensor([2.0, 0.0])
NEGATIVE = torch.tensor([[1.5, 3.0, -2.0, 0.0], [-1.0, 0.5, -0.5, -3.0]])


def test_bpr_and_sampled_softmax_of_a_hand_built_batch():
    sig = lambda x: 1 / (1 + math.exp(-x))
    pairs = [2 - 1.5, 2 - 3, 2 + 2, 2 - 0, 0 + 1, 0 - 0.5, 0 + 0.5, 0 + 3]
    bpr = -sum(math.log(sig(d)) for d in pairs) / 8
    assert ranking_loss(POSITIVE, NEGATIVE, "bpr", 100).item() == pytest.approx(bpr, rel=1e-6)
    rows = [[2, 1.5, 3, -2, 0], [0, -1, 0.5, -0.5, -3]]
    softmax = -sum(math.log(math.exp(r[0]) / sum(math.exp(x) for x in r)) for r in rows) / 2
    assert ranking_loss(POSITIVE, NEGATIVE, "sampled_softmax", 100).item() == pytest.approx(softmax, rel=1e-6)


def test_warp_weights_the_worst_hinge_by_the_log_of_the_estimated_rank():
    # Row 1: hinges 1-2+[1.5, 3, -2, 0] = [0.5, 2, -3, -1]: 2 of 4 violate, rank floor(99*2/4) = 49.
    # Row 2: hinges 1-0+[-1, .5, -.5, -3] = [0, 1.5, .5, -2]: 2 violate (0 does not), rank 49.
    expected = (math.log(1 + 49) * 2.0 + math.log(1 + 49) * 1.5) / 2
    assert ranking_loss(POSITIVE, NEGATIVE, "warp", 100).item() == pytest.approx(expected, rel=1e-6)
    # Nothing violates the margin: no loss and no gradient.
    positive = torch.tensor([5.0], requires_grad=True)
    loss = ranking_loss(positive, torch.tensor([[1.0, 3.9]]), "warp", 100)
    loss.backward()
    assert loss.item() == 0 and positive.grad.item() == 0


def test_hybridmf_loss_is_the_ranking_loss_of_its_hand_computed_scores():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    model = HybridMF(3, 4, item_features=features(x), embedding_dim=3, loss="bpr", embedding_reg=0.1)
    with torch.no_grad():
        model.item_bias.ids.weight.copy_(torch.tensor([[0.1], [0.2], [0.3], [0.4]]))
        model.item_bias.side.tower.first.weight.copy_(torch.tensor([[0.5], [-0.5]]))
    p = model.users.ids.weight.detach()
    q = model.items.ids.weight.detach() + x @ model.items.side.tower.first.weight.detach()  # [4, 3]
    b = model.item_bias.ids.weight.detach()[:, 0] + x @ torch.tensor([0.5, -0.5])
    batch = {"users": torch.tensor([0, 2]), "items": torch.tensor([1, 2]), "negatives": torch.tensor([[3], [0]])}
    pos = torch.stack([p[0] @ q[1] + b[1], p[2] @ q[2] + b[2]])
    neg = torch.stack([p[0] @ q[3] + b[3], p[2] @ q[0] + b[0]])
    penalty = 0.1 * (p[[0, 2]].pow(2).sum() + q[[1, 2, 3, 0]].pow(2).sum()) / 2
    expected = -torch.nn.functional.logsigmoid(pos - neg).mean() + penalty
    assert model.loss(batch).item() == pytest.approx(expected.item(), rel=1e-5)
    scores = model.score(torch.tensor([2]), torch.zeros(1, 4))
    torch.testing.assert_close(scores[0], p[2] @ q.T + b)


# -- cold ids -----------------------------------------------------------------------------------

def _train_with_item_3_cold() -> sp.csr_matrix:
    """A training matrix of 3 users x 5 items in which item 3 has no interaction."""
    return sp.csr_matrix(np.array([[1, 1, 0, 0, 1], [0, 1, 1, 0, 0], [1, 0, 0, 0, 1]], dtype=np.float32))


def _id_weights(model) -> list[torch.Tensor]:
    """The item id embeddings of each model."""
    if isinstance(model, HybridMF):
        return [model.items.ids.weight]
    if isinstance(model, DropoutNet):
        return [model.item_cf.weight]
    if isinstance(model, MLP):
        return [model.branch.item_embedding.weight]
    return [model.gmf.item_embedding.weight, model.mlp.item_embedding.weight]


@pytest.mark.parametrize("build", [
    lambda f: HybridMF(3, 5, item_features=f, embedding_dim=4),
    lambda f: DropoutNet(3, 5, item_features=f, embedding_dim=4, hidden_dims=[8], latent_dim=4),
    lambda f: MLP(3, 5, embedding_dim=4, hidden_dims=[8], use_features=True, item_features=f),
    lambda f: NeuMF(3, 5, embedding_dim=4, mlp_embedding_dim=4, hidden_dims=[8], use_features=True, item_features=f),
], ids=["hybridmf", "dropoutnet", "mlp", "neumf"])
def test_a_cold_items_score_depends_on_its_features_only(build):
    torch.manual_seed(0)
    values = torch.randn(5, 6)
    model = build(features(values))
    model.prepare(_train_with_item_3_cold())
    model.eval()
    users = torch.arange(3)
    before = model.score(users, torch.zeros(3, 5))
    with torch.no_grad():
        for id_embedding in _id_weights(model):
            id_embedding[3] += 5.0  # the cold item's id embedding: no effect
            id_embedding[0] += 5.0  # a warm item's: an effect
    after = model.score(users, torch.zeros(3, 5))
    torch.testing.assert_close(after[:, 3], before[:, 3])
    assert not torch.allclose(after[:, 0], before[:, 0])
    # The same weights with other features for the cold item: its scores change, the others' do not.
    values[3] += 1.0
    other = build(features(values))
    other.load_state_dict(model.state_dict())
    other.eval()
    moved = other.score(users, torch.zeros(3, 5))
    assert not torch.allclose(moved[:, 3], after[:, 3])
    torch.testing.assert_close(moved[:, [0, 1, 2, 4]], after[:, [0, 1, 2, 4]])


def test_a_cold_items_id_embedding_gets_no_gradient_even_as_a_sampled_negative():
    model = HybridMF(3, 5, item_features=features(torch.eye(5, 2)), embedding_dim=4, loss="warp")
    model.prepare(_train_with_item_3_cold())
    batch = {"users": torch.tensor([0, 1]), "items": torch.tensor([0, 2]),
             "negatives": torch.tensor([[3, 2], [3, 4]])}
    model.loss(batch).backward()
    grad = model.items.ids.weight.grad
    assert torch.all(grad[3] == 0) and grad[[0, 2, 4]].abs().sum() > 0
    assert torch.all(model.item_bias.ids.weight.grad[3] == 0)


# -- learning cold start end to end ---------------------------------------------------------------

def _category_split(seed: int = 0, n_users: int = 120, n_items: int = 80, n_categories: int = 4):
    """Each user likes one category's items; 20 items are cold (all their interactions are test).

    Returns the split, one-hot item categories ``[n_items, n_categories]`` and the cold items.
    """
    rng = np.random.default_rng(seed)
    category = np.arange(n_items) % n_categories
    taste = rng.integers(0, n_categories, n_users)
    liked = (category[None, :] == taste[:, None]) & (rng.random((n_users, n_items)) < 0.5)
    users, items = np.nonzero(liked)
    interactions = Interactions(user_ids=np.arange(n_users), item_ids=np.arange(n_items),
                                users=users.astype(np.int64), items=items.astype(np.int64))
    cold = rng.permutation(n_items)[:20]
    roles = np.where(np.isin(items, cold), Role.TEST, Role.TRAIN).astype(np.int8)
    roles[(roles == Role.TRAIN) & (rng.random(len(roles)) < 0.1)] = Role.VALID
    return SplitData(interactions, roles), np.eye(n_categories, dtype=np.float32)[category], np.sort(cold)


def _ndcg_among(scores: np.ndarray, target: np.ndarray, candidates: np.ndarray, k: int) -> float:
    """Mean NDCG@k of ranking only ``candidates`` (users with a target among them); numpy."""
    scores, target = scores[:, candidates], target[:, candidates]
    rows = target.sum(1) > 0
    scores, target = scores[rows], target[rows]
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    gains = np.take_along_axis(target, top, axis=1) / np.log2(np.arange(2, k + 2))
    ideal = np.array([(1 / np.log2(np.arange(2, min(n, k) + 2))).sum() for n in target.sum(1).astype(int)])
    return float((gains.sum(1) / ideal).mean())


def _train(model, split: SplitData, epochs: int) -> None:
    module = RecommenderModule(model, split.n_items, [10])
    data = InteractionDataModule(split, model.batch_kind, model.batch_size, 64, 0, model.num_negatives)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, limit_val_batches=0,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, use_distributed_sampler=False)
    trainer.fit(module, datamodule=data)


@pytest.mark.parametrize("name", ["hybridmf", "dropoutnet"])
def test_feature_models_rank_cold_items_far_better_than_popularity(name):
    split, categories, cold = _category_split()
    pl.seed_everything(0, verbose=False)
    if name == "hybridmf":
        model = HybridMF(split.n_users, split.n_items, item_features=features(categories), embedding_dim=8,
                         batch_size=256, optimizer=lambda p: torch.optim.Adam(p, lr=0.05))
    else:
        model = DropoutNet(split.n_users, split.n_items, item_features=features(categories), embedding_dim=8,
                           hidden_dims=[16], latent_dim=8, batch_size=256,
                           optimizer=lambda p: torch.optim.Adam(p, lr=0.01))
    _train(model, split, epochs=15)
    # prepare() ran through the Lightning module: exactly the cold items are marked cold.
    warm = model.items.side.warm if name == "hybridmf" else model.item_warm
    assert np.array_equal(np.flatnonzero(~warm.numpy()), cold)
    pop = Pop(split.n_users, split.n_items)
    pop.fit(split.train)
    users = torch.arange(split.n_users)
    target = split.test.toarray()
    with torch.no_grad():
        model.eval()
        ndcg = _ndcg_among(model.score(users, torch.zeros(1)).numpy(), target, cold, 5)
    pop_ndcg = _ndcg_among(pop.score(users, torch.zeros(1)).numpy(), target, cold, 5)
    # The best any model can do: rank the items of the user's category first (its target items are
    # half of them, at random). A model that learned the categories from features gets close.
    taste = (split.train @ categories).argmax(1)  # [n_users]
    oracle = _ndcg_among(categories[:, taste].T, target, cold, 5)
    assert ndcg > 0.9 * oracle and ndcg > pop_ndcg + 0.2, (ndcg, oracle, pop_ndcg)


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [HybridMF, DropoutNet, MLP, NeuMF])
def test_a_model_without_the_features_it_needs_is_one_readable_error(cls):
    name = cls.__name__.lower()
    on = {} if cls in (HybridMF, DropoutNet) else {"use_features": True}
    with pytest.raises(RecbenchError, match=f"model {name} needs item features, but the dataset provides none"):
        cls(3, 4, **on)
    with pytest.raises(RecbenchError, match=f"model {name} needs user features"):
        cls(3, 4, item_features=features(torch.eye(4)), feature_inputs=["item", "user"], **on)
    with pytest.raises(RecbenchError, match="model.feature_inputs"):
        cls(3, 4, item_features=features(torch.eye(4)), feature_inputs=["items"], **on)


def test_the_sparse_feature_projection_equals_the_dense_product():
    torch.manual_seed(1)
    values = torch.randn(6, 9) * (torch.rand(6, 9) < 0.3)
    values[2] = 0  # an id without features maps to zero (and then the bias)
    projection = FeatureProjection(features(values), 4, bias=True)
    with torch.no_grad():
        projection.bias.copy_(torch.arange(4.0))
    expected = values @ projection.weight.detach() + torch.arange(4.0)
    torch.testing.assert_close(projection(), expected)
    torch.testing.assert_close(projection(torch.tensor([[5, 2], [0, 0]])), expected[torch.tensor([[5, 2], [0, 0]])])


@pytest.mark.parametrize("cls", [MLP, NeuMF])
def test_features_off_mlp_and_neumf_are_the_plain_models(cls):
    """use_features=false: the same parameters as before features existed, features ignored, no cold masking."""
    side = features(torch.randn(5, 6))
    torch.manual_seed(0)
    plain = cls(3, 5)
    torch.manual_seed(0)
    given = cls(3, 5, item_features=side)  # passed but not used
    expected = {"MLP": ["branch.user_embedding.weight", "branch.item_embedding.weight", "branch.tower.0.weight",
                        "branch.tower.0.bias", "branch.tower.3.weight", "branch.tower.3.bias",
                        "output.weight", "output.bias"]}
    if cls is MLP:
        assert list(plain.state_dict()) == expected["MLP"]
    assert list(given.state_dict()) == list(plain.state_dict()) and not given.feature_inputs
    given.prepare(_train_with_item_3_cold())  # nothing to mark: ids stay as they are
    plain.eval(), given.eval()
    users = torch.arange(3)
    torch.testing.assert_close(given.score(users, torch.zeros(3, 5)), plain.score(users, torch.zeros(3, 5)),
                               rtol=0, atol=0)
    with torch.no_grad():
        for weight in _id_weights(given):
            weight[3] += 1.0  # without features an item's embedding is all it has
    assert not torch.allclose(given.score(users, torch.zeros(3, 5))[:, 3], plain.score(users, torch.zeros(3, 5))[:, 3])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["hybridmf", "dropoutnet", {"_target_": "plugins.neumf.NeuMF", "use_features": True}],
                         ids=["hybridmf", "dropoutnet", "neumf+features"])
def test_feature_models_pass_the_conformance_kit(model):
    report = check_plugin(model)
    assert {"features kept out of checkpoints", "any feature width", "cold ids score finitely",
            "checkpoint round trip", "deterministic under a fixed seed"} <= set(report.passed)


@pytest.mark.parametrize("overrides", [["model=hybridmf"], ["model=dropoutnet"], ["model=mlp", "model.use_features=true"],
                                       ["model=hybridmf", "dataset=ml-latest-small", "model.feature_inputs=[item,user]"]])
def test_a_run_on_a_dataset_without_the_needed_features_fails_before_training(overrides, tmp_path):
    cfg = compose_config(overrides, tmp_path, tiny=not any(o.startswith("dataset=") for o in overrides))
    side = "user" if "user]" in overrides[-1] else "item"
    with pytest.raises(RecbenchError, match=rf"model '\w+' needs {side} features, but dataset '[\w-]+' declares none"):
        train(cfg)
    assert not (tmp_path / "results.json").exists()
