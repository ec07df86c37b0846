"""The conformance kit on the sequence plugins' other losses, and its sequence checks on broken models.

Every built-in config (sasrec with ce, gru4rec with ce, bert4rec, markov) already goes through the
kit in tests/test_builtin_plugins.py.
"""

import pytest
import torch
from torch import nn

from recbench.testing import PluginContractError, check_plugin

SMALL = {"embedding_dim": 16, "batch_size": 16, "max_len": 12}


@pytest.mark.parametrize("model, extra", [
    ("plugins.sasrec.SASRec", {"loss": "bce"}),
    ("plugins.gru4rec.GRU4Rec", {"hidden_dim": 16, "loss": "sampled_softmax"}),
])
def test_sequence_plugins_follow_the_contract_with_their_other_loss(model, extra):
    report = check_plugin({"_target_": model, **SMALL, **extra}, epochs=1)
    assert {"history order matters", "padding ignored", "known items masked"} <= set(report.passed)


def test_markov_follows_the_contract_with_a_single_item_history():
    report = check_plugin("markov")
    assert report.kind == "fit" and "history order matters" in report.passed


class BagOfItems(nn.Module):
    """Declares sequences but sums item embeddings: order cannot matter.

    With ``count_padding`` it weights positions (so order matters) and divides by the width,
    padding included (so padding changes the scores).
    """

    history_kind = "sequence"
    batch_kind = "next_item"

    def __init__(self, n_users, n_items, max_len=12, batch_size=16, count_padding=False):
        super().__init__()
        self.n_users, self.n_items, self.max_len, self.batch_size = n_users, n_items, max_len, batch_size
        self.count_padding = count_padding
        self.embedding = nn.Embedding(n_items + 1, 8)
        self.optimizer = lambda params: torch.optim.Adam(params, lr=1e-2)

    def _user(self, sequence):
        tokens = torch.where(sequence < 0, self.n_items, sequence)
        if not self.count_padding:
            return self.embedding(tokens).sum(1)
        weights = torch.arange(1, sequence.shape[1] + 1, dtype=torch.float32)[None, :, None]
        return (self.embedding(tokens) * weights).sum(1) / sequence.shape[1]

    def loss(self, batch):
        real = batch["target"] >= 0
        user = self._user(batch["sequence"])[:, None].expand(-1, real.shape[1], -1)[real]
        return nn.functional.cross_entropy(user @ self.embedding.weight[:self.n_items].T, batch["target"][real])

    def score(self, users, history):
        return self._user(history) @ self.embedding.weight[:self.n_items].T


def test_a_sequence_plugin_that_ignores_order_is_caught():
    with pytest.raises(PluginContractError, match="ignores order"):
        check_plugin({"_target_": f"{__name__}.BagOfItems"}, epochs=1)


def test_a_sequence_plugin_whose_scores_depend_on_padding_is_caught():
    with pytest.raises(PluginContractError, match="depend on padding"):
        check_plugin({"_target_": f"{__name__}.BagOfItems", "count_padding": True}, epochs=1)
