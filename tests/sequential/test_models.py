"""The sequence plugins against hand counts and the properties that define them."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from plugins.bert4rec import BERT4Rec
from plugins.markov import Markov
from plugins.sasrec import SASRec
from recbench.data.sequences import PAD, Sequences, history_sequences
from tests.ddp_check import assert_ddp_matches_a_single_process
from tests.helpers import TINY_DATA

ROOT = Path(__file__).resolve().parents[2]


def test_markov_transition_shares_match_a_hand_count():
    # user 0: 0 1 2 1, user 1: 1 2, user 2: 2. Transitions 0->1, 1->2 (twice), 2->1; none across users.
    sequences = Sequences(items=np.array([0, 1, 2, 1, 1, 2, 2]), indptr=np.array([0, 4, 6, 7]))
    # the binary training matrix: user 0 knows {0, 1, 2}, user 1 {1, 2}, user 2 {2}
    train = sp.csr_matrix((np.ones(6, np.float32), ([0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2])), shape=(3, 4))
    model = Markov(3, 4, max_len=2, decay=0.5, popularity_weight=0.0)
    model.fit(train, sequences)
    expected = np.zeros((4, 4), np.float32)
    expected[0, 1], expected[1, 2], expected[2, 1] = 1.0, 1.0, 1.0  # each row's only successor (1->2 twice)
    np.testing.assert_allclose(model.transitions.numpy(), expected)
    # history "1 then 2": P(.|2) + 0.5 P(.|1); an empty history scores nothing
    scores = model.score(torch.arange(2), torch.tensor([[1, 2], [PAD, PAD]]))
    np.testing.assert_allclose(scores.numpy(), [[0, 1, 0.5, 0], [0, 0, 0, 0]])
    # the popularity term ranks what no transition reaches: items known to 3, 2, 1 and 0 users
    model.popularity_weight = 1e-3
    empty = model.score(torch.arange(1), torch.tensor([[PAD, PAD]]))[0]
    np.testing.assert_allclose(empty.numpy(), 1e-3 * np.array([1, 2, 3, 0]) / 3, rtol=1e-6)


def test_sasrec_attention_is_causal_a_later_item_leaves_earlier_outputs_alone():
    torch.manual_seed(0)
    model = SASRec(1, 20, embedding_dim=16, num_layers=2, num_heads=2, max_len=8).eval()
    a = torch.tensor([[3, 5, 7, 9, 11, PAD]])
    b = torch.tensor([[3, 5, 7, 2, 4, 6]])  # the same first three items, different later ones
    with torch.no_grad():
        out_a, out_b = model(a), model(b)
        torch.testing.assert_close(out_a[:, :3], out_b[:, :3])
        assert not torch.allclose(out_a[:, 3], out_b[:, 3])
        # scoring the prefix alone is reading the full sequence's output at the prefix's end
        prefix = model.score(torch.zeros(1, dtype=torch.long), a[:, :3])
        torch.testing.assert_close(prefix, out_a[:, 2] @ model.encoder.item_weights.T)


def test_bert4rec_attention_is_bidirectional_and_drops_the_oldest_item_when_full():
    torch.manual_seed(0)
    model = BERT4Rec(1, 20, embedding_dim=16, num_layers=1, num_heads=2, max_len=4).eval()
    tokens_a = torch.tensor([[3, 5, 7, 9]])
    tokens_b = torch.tensor([[3, 5, 7, 2]])
    real = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        # unlike SASRec, a later item changes the outputs at earlier positions
        assert not torch.allclose(model.encoder(tokens_a, real)[:, 0], model.encoder(tokens_b, real)[:, 0])
        # a full history (4 items) leaves room for the mask token by dropping its oldest item
        users = torch.zeros(1, dtype=torch.long)
        torch.testing.assert_close(model.score(users, tokens_a), model.score(users, tokens_a[:, 1:]))


@pytest.mark.slow
def test_sasrec_ddp_test_metrics_equal_a_single_process_evaluation_of_the_checkpoint(tmp_path):
    overrides = ["model=sasrec", "model.embedding_dim=16", "model.max_len=20", "model.batch_size=16",
                 "split=leave_one_out", *TINY_DATA]
    assert_ddp_matches_a_single_process(overrides, tmp_path, timeout=600,
                                        sequences=lambda split, model: history_sequences(split, "test", model.max_len))
