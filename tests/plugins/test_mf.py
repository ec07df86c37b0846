"""MF: the three losses against hand-computed values, and scoring against pairwise forward."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from plugins.mf import MF, pairwise_losses
from recbench.errors import RecbenchError


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bpr_loss_of_a_hand_built_batch():
    positive = torch.tensor([2.0, 0.0])
    negative = torch.tensor([[1.0, 3.0], [-1.0, 0.5]])
    pairs = [2 - 1, 2 - 3, 0 + 1, 0 - 0.5]
    expected = -sum(math.log(sigmoid(d)) for d in pairs) / 4
    assert pairwise_losses(positive, negative, "bpr").item() == pytest.approx(expected, rel=1e-6)


def test_bce_and_sampled_softmax_of_a_hand_built_batch():
    positive = torch.tensor([2.0, 0.0])
    negative = torch.tensor([[1.0, 3.0], [-1.0, 0.5]])
    bce = -(math.log(sigmoid(2)) + math.log(sigmoid(0)) + math.log(1 - sigmoid(1)) + math.log(1 - sigmoid(3))
            + math.log(1 - sigmoid(-1)) + math.log(1 - sigmoid(0.5))) / 6
    assert pairwise_losses(positive, negative, "bce").item() == pytest.approx(bce, rel=1e-6)
    softmax = -(math.log(math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(3)))
                + math.log(1 / (1 + math.exp(-1) + math.exp(0.5)))) / 2
    assert pairwise_losses(positive, negative, "sampled_softmax").item() == pytest.approx(softmax, rel=1e-6)


def test_model_loss_is_bpr_on_its_own_scores_plus_the_batch_penalty():
    model = MF(5, 6, embedding_dim=3, embedding_reg=0.1)
    with torch.no_grad():
        model.item_bias.copy_(torch.arange(6.0) / 10)
    batch = {"users": torch.tensor([0, 4]), "items": torch.tensor([1, 2]), "negatives": torch.tensor([[3], [5]])}
    p, q = model.user_embedding.weight.detach(), model.item_embedding.weight.detach()
    b = model.item_bias.detach()
    pos = torch.stack([p[0] @ q[1] + b[1], p[4] @ q[2] + b[2]])
    neg = torch.stack([p[0] @ q[3] + b[3], p[4] @ q[5] + b[5]])
    penalty = 0.1 * (p[[0, 4]].pow(2).sum() + q[[1, 2, 3, 5]].pow(2).sum()) / 2
    expected = -torch.log(torch.sigmoid(pos - neg)).mean() + penalty
    assert model.loss(batch).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("sparse_gradients", [False, True])
def test_batch_penalty_counts_a_row_as_often_as_the_batch_has_it(sparse_gradients):
    # User 2 twice; item 4 is a positive once and a negative twice. The dense path sums squared
    # row norms of the tables, the sparse one squares the gathered rows: both must count repeats.
    model = MF(3, 5, embedding_dim=2, embedding_reg=0.5, item_bias=False, sparse_gradients=sparse_gradients)
    batch = {"users": torch.tensor([2, 2]), "items": torch.tensor([4, 0]), "negatives": torch.tensor([[4], [4]])}
    without = MF(3, 5, embedding_dim=2, item_bias=False, sparse_gradients=sparse_gradients)
    without.load_state_dict(model.state_dict())
    p, q = model.user_embedding.weight.detach(), model.item_embedding.weight.detach()
    squares = 2 * p[2].pow(2).sum() + 3 * q[4].pow(2).sum() + q[0].pow(2).sum()
    penalty = model.loss(batch) - without.loss(batch)
    assert penalty.item() == pytest.approx((0.5 * squares / 2).item(), rel=1e-5)


def test_score_equals_the_pairwise_scores():
    model = MF(4, 9, embedding_dim=5)
    users = torch.tensor([3, 0])
    scores = model.score(users, torch.zeros(2, 9))
    pairwise = model(users[:, None], torch.arange(9)[None, :])
    torch.testing.assert_close(scores, pairwise)


def test_unknown_loss_is_a_readable_error():
    with pytest.raises(RecbenchError, match="model.loss must be one of bpr, bce, sampled_softmax"):
        MF(3, 3, loss="hinge")


def adam(**settings):
    return functools.partial(torch.optim.Adam, **settings)


def test_sparse_gradients_take_dense_adams_first_step_on_the_batch_rows_only():
    # Adam's first step moves an entry by lr * g / (|g| + eps): zero where the gradient is zero. So
    # one SparseAdam step from the same start equals one dense Adam step exactly, and rows the
    # batch did not touch stay where they were.
    torch.manual_seed(0)
    dense = MF(7, 9, embedding_dim=4, embedding_reg=0.1, num_negatives=2, optimizer=adam(lr=0.05))
    sparse = MF(7, 9, embedding_dim=4, embedding_reg=0.1, num_negatives=2, optimizer=adam(lr=0.05),
                sparse_gradients=True)
    with torch.no_grad():
        dense.item_bias.copy_(torch.linspace(-0.3, 0.3, 9))
        sparse.item_bias.weight[:, 0] = dense.item_bias
        sparse.user_embedding.weight.copy_(dense.user_embedding.weight)
        sparse.item_embedding.weight.copy_(dense.item_embedding.weight)
    batch = {"users": torch.tensor([0, 2, 2]), "items": torch.tensor([1, 3, 4]),
             "negatives": torch.tensor([[5, 6], [0, 6], [8, 5]])}
    assert sparse.loss(batch).item() == pytest.approx(dense.loss(batch).item(), rel=1e-6)
    before = dense.item_embedding.weight.detach().clone()
    for model in (dense, sparse):
        optimizer = model.configure_optimizers()
        model.loss(batch).backward()
        optimizer.step()
    assert isinstance(sparse.configure_optimizers(), torch.optim.SparseAdam)
    assert sparse.user_embedding.weight.grad.is_sparse
    torch.testing.assert_close(sparse.user_embedding.weight, dense.user_embedding.weight)
    torch.testing.assert_close(sparse.item_embedding.weight, dense.item_embedding.weight)
    torch.testing.assert_close(sparse.item_bias.weight[:, 0], dense.item_bias)
    untouched = [2, 7]  # items in no pair of the batch
    assert torch.equal(sparse.item_embedding.weight[untouched], before[untouched])
    assert not torch.equal(sparse.item_embedding.weight[1], before[1])
    users = torch.tensor([0, 1, 2])
    torch.testing.assert_close(sparse.score(users, None), dense.score(users, None))


@pytest.mark.parametrize("optimizer, message", [
    (adam(lr=0.01, weight_decay=0.1), "weight_decay=0"),
    (functools.partial(torch.optim.SGD, lr=0.01), "torch.optim.Adam"),
    (adam(lr=0.01, amsgrad=True), "amsgrad"),
])
def test_sparse_gradients_reject_what_sparse_adam_cannot_do(optimizer, message):
    with pytest.raises(RecbenchError, match=message):
        MF(3, 4, optimizer=optimizer, sparse_gradients=True)
