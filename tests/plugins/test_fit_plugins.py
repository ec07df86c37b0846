"""Behaviour every fit-path plugin shares: shapes, finiteness, determinism, state round-trip,
config keys that bind, and beating popularity on MovieLens-100K through the real run path."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hydra.utils import get_class
from omegaconf import OmegaConf

from recbench.config import build as build_config
from recbench.data.sources import find_dataset_dir
from recbench.evaluation.evaluator import Evaluator
from recbench.experiment import train
from tests.helpers import CONF_DIR, compose_config

# Small hyperparameters so that the tiny-matrix checks stay fast.
TINY = {
    "itemknn": {"k": 5}, "userknn": {"k": 5}, "puresvd": {"embedding_dim": 4}, "ease": {"l2": 10.0},
    "slim": {"alpha": 0.01, "max_iter": 5}, "ials": {"embedding_dim": 8, "n_iterations": 3},
}
MODELS = sorted(TINY)


def build(name: str, n_users: int, n_items: int, **overrides):
    node = OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")
    kwargs = {key: value for key, value in node.items() if key != "_target_"}
    torch.manual_seed(0)
    return get_class(node._target_)(n_users=n_users, n_items=n_items, **{**kwargs, **overrides})


def random_train(n_users: int = 30, n_items: int = 20, seed: int = 0) -> sp.csr_matrix:
    return sp.csr_matrix((np.random.default_rng(seed).random((n_users, n_items)) < 0.25).astype(np.float32))


@pytest.mark.parametrize("name", MODELS)
def test_config_keys_bind_to_the_constructor(name):
    node = OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")
    parameters = inspect.signature(get_class(node._target_)).parameters
    assert set(node) - {"_target_"} <= set(parameters)


@pytest.mark.parametrize("name", MODELS)
def test_scores_have_the_right_shape_are_finite_and_deterministic(name):
    train_matrix = random_train()
    users = torch.tensor([0, 3, 29])
    history = torch.from_numpy(train_matrix[users.numpy()].toarray())
    scores = []
    for _ in range(2):
        model = build(name, 30, 20, **TINY[name])
        model.fit(train_matrix)
        scores.append(model.score(users, history))
    assert scores[0].shape == (3, 20)
    assert torch.isfinite(scores[0]).all()
    assert torch.equal(scores[0], scores[1])
    assert scores[0].std() > 0  # not a constant


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip_gives_the_same_scores(name):
    model = build(name, 30, 20, **TINY[name])
    model.fit(random_train())
    fresh = build(name, 30, 20, **TINY[name])
    fresh.load_state_dict(model.state_dict())
    history = torch.from_numpy(random_train(seed=1)[:4].toarray())
    assert torch.equal(fresh.score(torch.arange(4), history), model.score(torch.arange(4), history))


@pytest.mark.parametrize("name", MODELS)
def test_the_evaluator_never_recommends_known_items(name):
    train_matrix = random_train(30, 20, seed=3)
    model = build(name, 30, 20, **TINY[name])
    model.fit(train_matrix)
    target = sp.csr_matrix((np.random.default_rng(4).random((30, 20)) < 0.1) & (train_matrix.toarray() == 0))
    result = Evaluator([5], batch_size=7, keep_top_items=True).evaluate(model, train_matrix, target, "test",
                                                                        torch.device("cpu"))
    known = train_matrix.toarray()[result.users[:, None], result.top_items]  # [n_evaluated, 5]
    assert len(result.users) > 0 and not known.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", MODELS)
def test_scores_on_the_gpu_match_the_cpu_and_refit_stays_there(name):
    model = build(name, 30, 20, **TINY[name])
    model.fit(random_train())
    history = torch.from_numpy(random_train(seed=1)[:4].toarray())
    expected = model.score(torch.arange(4), history)
    model.to("cuda")
    scores = model.score(torch.arange(4, device="cuda"), history.cuda())
    torch.testing.assert_close(scores.cpu(), expected, rtol=1e-4, atol=1e-4)
    model.fit(random_train(seed=2))  # the runner refits after moving the model
    assert all(buffer.device.type == "cuda" for buffer in model.buffers())


def ml100k_available() -> bool:
    try:
        find_dataset_dir("ml-100k", None, ["u.data"])
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def pop_ndcg(tmp_path_factory) -> float:
    results = train(compose_config(["dataset=ml-100k", "model=pop", "split=ratio_80_20"],
                                   tmp_path_factory.mktemp("pop"), tiny=False))
    return results.metrics["test/ndcg@10"]


@pytest.mark.skipif(not ml100k_available(), reason="ml-100k not found in $RECBENCH_DATA_DIR")
@pytest.mark.parametrize("name", MODELS)
def test_beats_popularity_on_movielens_100k(name, pop_ndcg, tmp_path):
    # A short, strongly regularised SLIM: the tuned one takes minutes on 2 cores.
    overrides = ["model.alpha=0.1", "model.l1_ratio=0.1", "model.max_iter=5"] if name == "slim" else []
    results = train(compose_config(["dataset=ml-100k", f"model={name}", "split=ratio_80_20", *overrides],
                                   tmp_path, tiny=False))
    assert results.metrics["test/ndcg@10"] > pop_ndcg + 0.1, (results.metrics["test/ndcg@10"], pop_ndcg)


EXPERIMENTS = sorted(path.stem for path in (CONF_DIR / "experiment").glob("*.yaml")
                     if path.stem.split("_")[0] in [*MODELS, "pop"] and path.stem.endswith(("_ml100k", "_lastfm")))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_files_compose_into_the_benchmark_protocol(experiment, tmp_path):
    cfg = compose_config([f"experiment={experiment}"], tmp_path, tiny=False)
    assert cfg.evaluation.refit and list(cfg.split.ratios) == [0.64, 0.16, 0.2]
    assert cfg.dataset.name == ("ml-100k" if experiment.endswith("_ml100k") else "lastfm-2k")
    model = build_config(cfg.model, "model", n_users=10, n_items=8)
    assert type(model).__name__.lower() == experiment.split("_")[0]
