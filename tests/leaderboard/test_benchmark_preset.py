"""The benchmark preset: a multirun over models and seeds that ends with the leaderboard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from recbench.leaderboard import build_leaderboard, collect_runs
from recbench.leaderboard.formats import to_markdown
from tests.helpers import CONF_DIR, TINY_DATA

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = {path.stem for path in (CONF_DIR / "model").glob("*.yaml")}


def test_preset_sweeps_every_model_it_finds_on_three_seeds_and_adds_the_callback():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=benchmark"], return_hydra_config=True)
        options = GlobalHydra.instance().config_loader().get_group_options("model")
    params = cfg.hydra.sweeper.params
    # Expanded as Hydra's sweeper expands it: over the model group's options, so a new model's
    # YAML file (or an installed plugin package's) joins the benchmark without an edit here.
    sweep = OverridesParser.create().parse_override(f"model={params.model}")
    models = sweep.value().filter(options)
    assert sorted(models) == sorted(BUILT_IN) and params.seed.split(",") == ["1", "2", "3"]
    callback = cfg.hydra.callbacks.leaderboard
    assert callback._target_ == "recbench.leaderboard.callback.LeaderboardCallback"
    assert callback.sort == "test/ndcg@10"


@pytest.mark.slow
def test_benchmark_multirun_prints_the_leaderboard(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "run.py", "-m", "experiment=benchmark", "model=mlp,pop", "logger=none",
         "trainer.max_epochs=2", "trainer.enable_progress_bar=false", *TINY_DATA, f"hydra.sweep.dir={sweep}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)
    assert len(list(sweep.rglob("results.json"))) == 6
    # What it printed is the leaderboard of the sweep folder, as the command would build it.
    expected = to_markdown(build_leaderboard(collect_runs([sweep])))
    assert f"leaderboard of {sweep}:\n\n{expected}" in done.stdout
    table = [line for line in expected.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + 2 and all("| 3 |" in line for line in table[2:])   # 2 groups of 3 seeds
    assert (sweep / "leaderboard.md").read_text() == expected
    assert (sweep / "leaderboard.html").is_file() and (sweep / "leaderboard.csv").is_file()
