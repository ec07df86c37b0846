"""The conformance kit itself: broken plugins fail with the violation named, a correct one passes."""

from __future__ import annotations

import re

import pytest

from recbench.testing import PluginContractError, check_plugin

BROKEN = "tests.fixtures.broken_plugins."


def test_a_correct_plugin_passes_every_check():
    report = check_plugin({"_target_": BROKEN + "Correct"})
    assert report.kind == "fit"
    assert report.passed == ["interface", "score shape", "finite scores", "repeatable scores",
                             "batch independence", "known items masked", "deterministic under a fixed seed",
                             "checkpoint round trip"]


@pytest.mark.parametrize("plugin, message", [
    ("WrongShape", r"wrong score shape: score\(\) returned shape \[48, 7\] for 7 users and 48 items; "
                   r"it must be \[7, 48\] \(users x items\)"),
    ("NaNScores", r"NaN or infinite scores: \d+ of 3072 scores of the trained model are NaN or infinite"),
    ("Nondeterministic", r"results change under a fixed seed: two builds and trainings with seed 0 gave "
                         r"scores that differ"),
    ("StochasticScore", r"results change under a fixed seed: two calls of score\(\) on the same trained "
                        r"model gave different scores"),
    ("BatchDependent", r"scores depend on other users in the same batch: user \d+ scored alone differs"),
    ("MutatesHistory", r"score\(\) changes its history argument in place: recbench recommend and recbench "
                       r"explain mask the known items from that tensor"),
    ("SparseHistoryMisread", r"sparse history scored differently: score\(\) given the history as sparse COO "
                             r"rows .* differs from score\(\) given the same rows dense"),
    ("StateInAttribute", r"checkpoint round trip: a fresh instance loaded with the trained state_dict "
                         r"scores differently"),
    ("ResizedBuffer", r"checkpoint round trip: loading the trained state_dict into a fresh instance failed "
                      r"\(.*size mismatch"),
    ("ForgetsSizes", r"interface: it must store its n_users and n_items arguments"),
    ("NoNegatives", r"interface: self.num_negatives is None; a neural plugin must set it"),
])
def test_a_broken_plugin_fails_with_its_violation_named(plugin, message):
    with pytest.raises(PluginContractError) as failure:
        check_plugin({"_target_": BROKEN + plugin})
    text = str(failure.value)
    assert text.startswith(f"{BROKEN}{plugin} violates the plugin contract: ")
    assert re.search(message, text, re.S), text


def test_a_model_given_by_yaml_path_is_checked(tmp_path):
    path = tmp_path / "correct.yaml"
    path.write_text(f"_target_: {BROKEN}Correct\n")
    assert check_plugin(path).target == BROKEN + "Correct"
