"""Run folders: resume=true continues a killed run to the same result; a rerun never mixes runs."""

from __future__ import annotations

import json

import pytest
import pytorch_lightning as pl
from omegaconf import open_dict

from recbench.errors import RecbenchError
from recbench.experiment import train
from tests.helpers import compose_config

RUN = ["model=mf", "trainer.max_epochs=4", "evaluation.patience=10"]


class Killed(Exception):
    """Stands for the process dying: nothing after it runs."""


class EpochsSeen(pl.Callback):
    def __init__(self):
        self.epochs = []

    def on_train_epoch_start(self, trainer, module):
        self.epochs.append(trainer.current_epoch)


class KillAtEpoch(pl.Callback):
    """Dies when epoch ``epoch`` starts, after the previous epoch's checkpoints were written."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == self.epoch:
            raise Killed


def test_resumed_run_ends_with_the_metrics_of_an_uninterrupted_one(tmp_path):
    whole = train(compose_config(RUN, tmp_path / "whole"))
    with pytest.raises(Killed):
        train(compose_config(RUN, tmp_path / "killed"), extra_callbacks=[KillAtEpoch(2)])
    assert (tmp_path / "killed/checkpoints/last.ckpt").is_file()
    assert not (tmp_path / "killed/results.json").exists()
    cfg = compose_config(RUN, tmp_path / "killed")
    with open_dict(cfg):
        cfg.resume = True
    seen = EpochsSeen()
    resumed = train(cfg, extra_callbacks=[seen])
    assert seen.epochs == [2, 3]  # continued, not started again
    assert resumed.metrics == whole.metrics
    assert (resumed.timing.epochs, resumed.timing.best_epoch) == (whole.timing.epochs, whole.timing.best_epoch)
    assert sorted(p.name for p in (tmp_path / "killed/checkpoints").iterdir()) == ["best.ckpt", "last.ckpt", "model.pt"]


def test_resume_of_a_finished_run_is_refused(tmp_path):
    train(compose_config(["model=pop"], tmp_path))
    cfg = compose_config(["model=pop"], tmp_path)
    with open_dict(cfg):
        cfg.resume = True
    with pytest.raises(RecbenchError, match="already finished"):
        train(cfg)


def test_rerun_into_a_used_folder_moves_the_old_run_aside(tmp_path):
    first = train(compose_config(["model=mf", "trainer.max_epochs=2"], tmp_path))
    (tmp_path / ".hydra").mkdir()  # written by Hydra for the new run: stays
    (tmp_path / "mine.csv").write_text("the user's own file: stays")
    second = train(compose_config(["model=pop"], tmp_path))
    assert json.loads((tmp_path / "results.json").read_text())["model"]["name"] == second.model == "pop"
    assert not (tmp_path / "checkpoints" / "best.ckpt").exists()  # no stale best.ckpt beside the new run
    aside = list((tmp_path / "previous").iterdir())
    assert len(aside) == 1
    assert json.loads((aside[0] / "results.json").read_text())["metrics"] == first.metrics
    assert (aside[0] / "checkpoints" / "best.ckpt").is_file() and (tmp_path / ".hydra").is_dir()
    assert (tmp_path / "mine.csv").is_file()
