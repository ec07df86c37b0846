"""Real runs on tiny synthetic data, trained once per test session and copied where tests edit them.

Layout under the session folder:
    main/{pop,bad_mlp}/seed{1,2,3}   pop and an MLP whose learning rate is too small to learn
    rerun/bad_mlp/seed{1,2,3}        the identical MLP configuration again, in another folder
    other_seeds/pop/seed{4,5,6}      pop again, on other seeds (other splits)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recbench.experiment import train
from tests.helpers import compose_config

BAD_MLP = ["model=mlp", "model.optimizer.lr=1e-7"]
MODELS = {"pop": ["model=pop"], "bad_mlp": BAD_MLP}


def make_run(folder: Path, overrides: list[str], seed: int) -> dict:
    return train(compose_config([*overrides, f"seed={seed}", "trainer.max_epochs=2"], folder))


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("leaderboard_runs")
    for name, overrides in MODELS.items():
        for seed in (1, 2, 3):
            make_run(root / "main" / name / f"seed{seed}", overrides, seed)
    for seed in (1, 2, 3):
        make_run(root / "rerun" / "bad_mlp" / f"seed{seed}", BAD_MLP, seed)
    for seed in (4, 5, 6):
        make_run(root / "other_seeds" / "pop" / f"seed{seed}", MODELS["pop"], seed)
    return root


@pytest.fixture
def main_runs(runs_root, tmp_path) -> Path:
    """A private copy of main/ that a test may damage."""
    return Path(shutil.copytree(runs_root / "main", tmp_path / "main"))
