"""``privacy=dp`` end to end on tiny data: the recorded budget, the epsilon log, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("opacus")
from opacus.accountants import RDPAccountant

from plugins.recvae import RecVAE
from recbench.data.loading import load_dataset
from recbench.data.split_cache import cached_split
from recbench.experiment import train
from recbench.leaderboard import build_leaderboard, collect_runs
from recbench.leaderboard.formats import to_csv, to_markdown
from recbench.record import RunRecord
from tests.helpers import compose_config
from tests.test_bad_input import assert_fails_cleanly

DP = ["privacy=dp", "trainer.max_epochs=2", "evaluation.patience=2"]


def training_users(cfg) -> int:
    """Users with training data in the run's split, counted from the split itself."""
    data = load_dataset(cfg.dataset, cache_dir=cfg.paths.cache_dir)
    split, _ = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed), cache_dir=cfg.paths.cache_dir)
    return int(np.count_nonzero(split.train.getnnz(axis=1)))


def test_recorded_epsilon_is_the_accountants_for_the_true_rate_and_steps(tmp_path):
    overrides = [*DP, "model=multdae", "model.batch_size=32", "privacy.target_epsilon=3", "privacy.delta=1e-4",
                 "logger=csv"]
    cfg = compose_config(overrides, tmp_path)
    train(cfg)
    privacy = json.loads((tmp_path / "results.json").read_text())["privacy"]
    n = training_users(cfg)
    steps = 2 * math.ceil(n / 32)
    assert privacy["unit"] == "user" and privacy["accountant"] == "rdp" and privacy["delta"] == 1e-4
    assert privacy["sample_rate"] == pytest.approx(32 / n) and privacy["steps"] == steps
    independent = RDPAccountant()
    independent.history = [(privacy["noise_multiplier"], 32 / n, steps)]
    expected = independent.get_epsilon(delta=1e-4)
    assert privacy["epsilon"] == pytest.approx(expected, rel=1e-9)
    # All epochs ran, so the calibrated noise spent the target (to the search tolerance), not more.
    assert expected <= 3.0 and expected == pytest.approx(3.0, abs=0.05)
    # privacy/epsilon is logged once per epoch, growing to the recorded value.
    logged = pd.read_csv(next(tmp_path.glob("csv/*/metrics.csv")))
    per_epoch = logged.dropna(subset=["privacy/epsilon", "epoch"])["privacy/epsilon"].tolist()
    assert len(per_epoch) == 2 and 0 < per_epoch[0] < per_epoch[1] == pytest.approx(privacy["epsilon"], rel=1e-6)


def test_interaction_level_run_is_reproducible_and_its_epsilon_on_the_leaderboard(tmp_path):
    overrides = [*DP, "model=mf", "model.item_bias=false", "privacy.target_epsilon=null",
                 "privacy.noise_multiplier=1.0", "seed=5"]
    first = train(compose_config(overrides, tmp_path / "a"))
    second = train(compose_config(overrides, tmp_path / "b"))
    train(compose_config(["model=pop"], tmp_path / "c"))
    assert first.metrics == second.metrics
    assert first.privacy == second.privacy
    assert first.privacy.unit == "interaction" and first.privacy.noise_multiplier == 1.0
    assert first.privacy.target_epsilon is None and first.privacy.epsilon > 0
    # The typed section survives results.json.
    assert RunRecord.load(tmp_path / "a").privacy == first.privacy
    board = build_leaderboard(collect_runs([tmp_path]), test=None)
    by_model = board.table.set_index("model")
    assert by_model.loc["mf", "epsilon"] == pytest.approx(first.privacy.epsilon)
    assert math.isnan(by_model.loc["pop", "epsilon"])
    markdown = to_markdown(board)
    assert "| epsilon |" in markdown.splitlines()[0] + " |"
    assert f"{first.privacy.epsilon:.2f} (interaction)" in markdown
    assert "epsilon" in to_csv(board).splitlines()[0]


class TwoStepRecVAE(RecVAE):
    """Promises one optimizer step per batch and takes two."""

    def manual_step(self, batch, module):
        super().manual_step(batch, module)
        return super().manual_step(batch, module)


def test_a_manual_model_with_one_step_per_batch_is_accounted_per_batch(tmp_path):
    overrides = [*DP, "model=recvae", "model.hidden_dim=16", "model.latent_dim=4", "model.batch_size=40"]
    cfg = compose_config(overrides, tmp_path)
    record = train(cfg)
    n = training_users(cfg)
    assert record.privacy.unit == "user" and record.privacy.steps == 2 * math.ceil(n / 40)
    assert record.privacy.epsilon == pytest.approx(8.0, abs=0.05)


def test_a_broken_one_step_promise_stops_the_run(tmp_path, capsys):
    assert_fails_cleanly(tmp_path, capsys, [*DP, f"model._target_={__name__}.TwoStepRecVAE", "model=recvae",
                                            "model.hidden_dim=16", "model.latent_dim=4"],
                         "TwoStepRecVAE took 2 optimizer steps on one training batch")


@pytest.mark.parametrize("overrides, message", [
    (["privacy.target_epsilon=0"], "privacy.target_epsilon must be a positive number, got 0"),
    (["privacy.target_epsilon=-2"], "privacy.target_epsilon must be a positive number"),
    (["privacy.delta=0"], "privacy.delta must be in (0, 1), got 0"),
    (["privacy.delta=1.5"], "privacy.delta must be in (0, 1)"),
    (["privacy.noise_multiplier=1.0"], "give exactly one of privacy.target_epsilon and privacy.noise_multiplier"),
    (["+privacy.epsilon=3"], "privacy config has a key"),
    (["trainer=ddp"], "privacy=dp cannot be used with trainer.strategy=ddp"),
    (["+trainer.precision=16-mixed"], "trainer.precision=16-mixed"),
    (["+trainer.accumulate_grad_batches=4"], "trainer.accumulate_grad_batches=4"),
    (["evaluation.refit=true"], "evaluation.refit=true"),
    (["+trainer.overfit_batches=2"], "trainer.overfit_batches=2"),
])
def test_bad_privacy_input_fails_before_the_data_is_read(tmp_path, capsys, monkeypatch, overrides, message):
    # The data folder does not exist: a check that ran after reading data would report that instead.
    monkeypatch.setenv("RECBENCH_DATA_DIR", str(tmp_path / "nowhere"))
    assert_fails_cleanly(tmp_path, capsys, ["privacy=dp", "dataset=ml-100k", *overrides], message)


@pytest.mark.parametrize("overrides, message", [
    (["model=mf"], "MF holds trainable parameters item_bias itself"),
    (["model=cfgan"], "does not support CFGAN: it steps its own optimizers"),
    (["model=ease"], "EASE is fitted directly on the training matrix"),
])
def test_models_dp_cannot_train_fail_with_the_module_named(tmp_path, capsys, overrides, message):
    assert_fails_cleanly(tmp_path, capsys, ["privacy=dp", *overrides], message)
