"""NeuMF: the fused model, and its initialisation from trained GMF and MLP checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from plugins.gmf import GMF
from plugins.mlp import MLP
from plugins.neumf import NeuMF
from recbench.errors import RecbenchError
from recbench.experiment import train
from tests.helpers import compose_config


def test_gmf_score_equals_its_pairwise_logits():
    model = GMF(5, 8, embedding_dim=4)
    users = torch.tensor([4, 1])
    torch.testing.assert_close(model.score(users, torch.zeros(2, 8)), model(users[:, None], torch.arange(8)[None]))


@pytest.mark.parametrize("chunk_values", [1 << 20, 40 * 16])  # whole batches; one user per chunk
@pytest.mark.parametrize("hidden_dims", [(16, 8), ()])
def test_mlp_and_neumf_full_ranking_equals_their_pairwise_logits(monkeypatch, chunk_values, hidden_dims):
    # Scoring every item goes through the tower a few users at a time on the CPU: the scores
    # must be the pairwise forward's, however the users are chunked.
    monkeypatch.setattr("recbench.nn._CHUNK_VALUES", chunk_values)
    torch.manual_seed(0)
    users = torch.tensor([4, 1, 0, 3, 2])
    every_item = torch.arange(40)[None]
    for model in (MLP(5, 40, embedding_dim=8, hidden_dims=hidden_dims),
                  NeuMF(5, 40, embedding_dim=4, mlp_embedding_dim=8, hidden_dims=hidden_dims)):
        torch.testing.assert_close(model.score(users, torch.zeros(5, 40)), model(users[:, None], every_item))


def test_neumf_from_checkpoints_starts_as_the_alpha_mix_of_the_two_models(tmp_path):
    gmf_run = train(compose_config(["model=gmf", "trainer.max_epochs=1"], tmp_path / "gmf"))
    mlp_run = train(compose_config(["model=mlp", "trainer.max_epochs=1"], tmp_path / "mlp"))
    gmf_ckpt, mlp_ckpt = tmp_path / "gmf/checkpoints/best.ckpt", tmp_path / "mlp/checkpoints/best.ckpt"
    assert gmf_ckpt.is_file() and mlp_ckpt.is_file()
    n_users, n_items = (gmf_run.stats[k] for k in ("n_users", "n_items"))
    cfg = compose_config(["model=neumf", f"model.gmf_checkpoint={gmf_ckpt}",
                          f"model.mlp_checkpoint={mlp_ckpt}", "model.alpha=0.3"], tmp_path / "neumf")
    neumf = instantiate(cfg.model, n_users=n_users, n_items=n_items).eval()
    gmf = instantiate(compose_config(["model=gmf"], tmp_path).model, n_users=n_users, n_items=n_items)
    mlp = instantiate(compose_config(["model=mlp"], tmp_path).model, n_users=n_users, n_items=n_items)
    for model, path in ((gmf, gmf_ckpt), (mlp, mlp_ckpt)):
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
        model.eval()
    users, history = torch.arange(6), torch.zeros(6, n_items)
    expected = 0.3 * gmf.score(users, history) + 0.7 * mlp.score(users, history)
    torch.testing.assert_close(neumf.score(users, history), expected)
    assert mlp_run.metrics["valid/ndcg@10"] > 0


def test_neumf_trains_from_checkpoints_end_to_end(tmp_path):
    train(compose_config(["model=gmf", "trainer.max_epochs=1"], tmp_path / "gmf"))
    train(compose_config(["model=mlp", "trainer.max_epochs=1"], tmp_path / "mlp"))
    run = train(compose_config(["model=neumf", f"model.gmf_checkpoint={tmp_path / 'gmf/checkpoints/best.ckpt'}",
                                f"model.mlp_checkpoint={tmp_path / 'mlp/checkpoints/best.ckpt'}",
                                "trainer.max_epochs=1"], tmp_path / "neumf"))
    assert run.metrics["test/ndcg@10"] > 0


def test_missing_or_mismatched_checkpoint_is_a_readable_error(tmp_path):
    with pytest.raises(RecbenchError, match="model.gmf_checkpoint .* is not a file"):
        NeuMF(4, 5, gmf_checkpoint=str(tmp_path / "nope.ckpt"))
    path = Path(tmp_path / "small.ckpt")
    torch.save({"state_dict": {f"model.{k}": v for k, v in GMF(4, 5, embedding_dim=2).state_dict().items()}}, path)
    with pytest.raises(RecbenchError, match="does not fit this NeuMF"):
        NeuMF(4, 5, embedding_dim=8, gmf_checkpoint=str(path))


class _RunsCode:
    """Unpickling this calls ``Path.touch(marker)``: what a crafted checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_crafted_checkpoint_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(RecbenchError, match="model.gmf_checkpoint .* is not a recbench checkpoint that loads safely"):
        NeuMF(4, 5, gmf_checkpoint=str(path))
    assert not marker.exists()
