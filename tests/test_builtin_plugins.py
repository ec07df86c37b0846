"""Every model config in ``conf/model`` (found at test time) passes the conformance kit."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_object

from recbench.data.feature_needs import model_feature_sides
from recbench.plugin import is_fit_model
from recbench.testing import check_plugin
from recbench.testing.conformance import compose_model

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "conf" / "model"
OPTIONS = sorted(p.relative_to(MODEL_DIR).with_suffix("").as_posix() for p in MODEL_DIR.rglob("*.yaml"))


def _neural(option: str) -> bool:
    return not is_fit_model(get_object(compose_model(option, REPO)._target_))


@pytest.mark.parametrize("option", OPTIONS)
def test_builtin_plugin_passes_the_conformance_kit(option):
    report = check_plugin(option, repo_root=REPO)
    assert "checkpoint round trip" in report.passed


def _needs_features(option: str) -> bool:
    return bool(model_feature_sides(compose_model(option, REPO)))


# The DDP check runs on the synthetic dataset, which declares no side features: the feature-aware
# plugins (hybridmf, dropoutnet) are checked under DDP on nothing yet.
@pytest.mark.slow
@pytest.mark.parametrize("option", [option for option in OPTIONS if _neural(option) and not _needs_features(option)])
def test_neural_plugin_runs_under_ddp_with_two_processes(option):
    report = check_plugin(option, ddp=True, repo_root=REPO)
    assert report.passed[-1] == "ddp"
