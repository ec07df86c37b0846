"""The conformance kit on feature-aware plugins: a correct one passes, each mistake is named."""

from __future__ import annotations

import re

import pytest

from recbench.testing import PluginContractError, check_plugin

FIXTURES = "tests.fixtures.broken_feature_plugins."


def test_a_correct_feature_plugin_passes_the_feature_checks():
    report = check_plugin({"_target_": FIXTURES + "CorrectFeatures"})
    assert report.passed[-3:] == ["features kept out of checkpoints", "any feature width", "cold ids score finitely"]


def test_contentknn_passes_the_feature_checks():
    report = check_plugin("contentknn")
    assert "cold ids score finitely" in report.passed


@pytest.mark.parametrize("plugin, message", [
    ("PersistentFeatures", r"side information: item_features is saved in the state_dict as 'features'"),
    ("FixedWidth", r"feature shapes: with 1-dimensional features it failed .*size layers from "
                   r"item_features.values.shape\[1\]"),
    ("NaNForColdItems", r"(cold ids: score\(\) gave NaN or infinite scores to cold items|NaN or infinite scores)"),
])
def test_a_feature_mistake_is_named(plugin, message):
    with pytest.raises(PluginContractError) as failure:
        check_plugin({"_target_": FIXTURES + plugin})
    assert re.search(message, str(failure.value), re.S), str(failure.value)
