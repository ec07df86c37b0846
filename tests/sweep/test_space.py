"""The search space: Hydra's override grammar to Optuna distributions, and values back to overrides."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from recbench.errors import RecbenchError
from recbench.sweep.space import parse_space
from tests.helpers import CONF_DIR, compose_config


def test_each_form_of_the_grammar_becomes_its_distribution():
    space = parse_space({
        "a": "interval(0.0, 0.5)",
        "b": "tag(log, interval(1e-4, 1e-1))",
        "c": "int(interval(8, 128))",
        "d": "tag(log, int(interval(8, 128)))",
        "e": "range(1, 9)",
        "f": "range(2, 11, 4)",
        "g": "choice(16, 32, 64)",
        "h": "range(0.1, 0.4, 0.1)",
        "i": "choice(cosine, 'two words')",
        "j": 7,
    }, [])
    assert space.distributions == {
        "a": FloatDistribution(0.0, 0.5),
        "b": FloatDistribution(1e-4, 1e-1, log=True),
        "c": IntDistribution(8, 128),
        "d": IntDistribution(8, 128, log=True),
        "e": IntDistribution(1, 8),  # range excludes its stop, like Python's
        "f": IntDistribution(2, 10, step=4),
        "g": CategoricalDistribution([16, 32, 64]),
        "h": CategoricalDistribution([0.1, 0.2, 0.3]),  # 0.3, not 0.30000000000000004; 0.4 excluded
        "i": CategoricalDistribution(["cosine", "two words"]),
    }
    assert space.fixed == ["j=7"]


def test_command_line_sweeps_join_the_space_and_win_on_a_key():
    space = parse_space({"model.dropout": "interval(0.0, 0.5)", "model.embedding_dim": "choice(8, 16)"},
                        ["model.dropout=0.1,0.2", "seed=3", "model=mlp"])
    assert space.distributions["model.dropout"] == CategoricalDistribution([0.1, 0.2])
    assert space.distributions["model.embedding_dim"] == CategoricalDistribution([8, 16])
    assert space.fixed == ["seed=3", "model=mlp"]


def test_sampled_values_become_overrides_that_parse_back_to_the_same_values():
    space = parse_space({
        "lr": "tag(log, interval(1e-6, 1e-1))",
        "dims": "choice([64], [128, 64])",
        "name": "choice('a b', plain)",
        "n": "range(1, 5)",
    }, ["seed=1"])
    params = {"lr": 1.2345678901234567e-05, "dims": "[128,64]", "name": "a b", "n": 3}
    overrides = space.overrides(params)
    assert overrides[0] == "seed=1"
    parsed = {o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(overrides[1:])}
    assert parsed == {"lr": 1.2345678901234567e-05, "dims": [128, 64], "name": "a b", "n": 3}


def test_trial_samples_stay_inside_the_space():
    space = parse_space({"x": "tag(log, interval(1e-3, 1.0))", "k": "int(interval(2, 5))",
                         "c": "choice([1], [1, 2])"}, [])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        params = space.suggest(study.ask())
        assert 1e-3 <= params["x"] <= 1.0 and params["k"] in range(2, 6) and params["c"] in ("[1]", "[1,2]")


@pytest.mark.parametrize("params, message", [
    ({"x": "tag(log, interval(0.0, 1.0))"}, "lower bound > 0"),
    ({"x": "interval(2.0, 1.0)"}, "is empty"),
    ({"x": "tag(shuffle, interval(0.0, 1.0))"}, "unsupported tag"),
    ({"x": "choice(1, 1)"}, "twice"),
    ({"x": "interval(0.0"}, "cannot parse"),
])
def test_bad_spaces_are_refused_with_the_key_named(params, message):
    with pytest.raises(RecbenchError, match=message):
        parse_space(params, [])


def test_grid_needs_discrete_parameters():
    assert parse_space({"a": "choice(1, 2)", "b": "range(0, 3)"}, []).grid() == {"a": [1, 2], "b": [0, 1, 2]}
    with pytest.raises(RecbenchError, match="grid sampler needs discrete"):
        parse_space({"a": "interval(0.0, 1.0)"}, []).grid()


PRESETS = sorted((CONF_DIR / "hparams_search").glob("*_optuna.yaml"))


def test_there_is_a_preset_per_built_in_model():
    models = {p.stem for p in (CONF_DIR / "model").glob("*.yaml")}
    assert models <= {p.stem.removesuffix("_optuna") for p in PRESETS}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_presets_parse_and_name_keys_of_their_model(preset: Path, tmp_path):
    """Every preset's space parses; where its model config exists, every key is in the run config."""
    header, = [line for line in preset.read_text().splitlines() if line.startswith("# @package")]
    assert header == "# @package _global_"
    raw = yaml.safe_load(preset.read_text())
    model = next(d["override /model"] for d in raw["defaults"] if "override /model" in d)
    space = parse_space(raw["hydra"]["sweeper"]["params"], [])
    if not (CONF_DIR / "model" / f"{model}.yaml").exists():
        pytest.skip(f"conf/model/{model}.yaml is not in this checkout yet: only the grammar was checked")
    cfg = compose_config([f"hparams_search={preset.stem}"], tmp_path)
    assert cfg.model._target_ and OmegaConf.select(cfg, "optimized_metric") == "valid/ndcg@10"
    for key in space.distributions:
        assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", f"{preset.name}: {key}"
