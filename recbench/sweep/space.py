"""The search space, read with Hydra's own override parser, and sampled values back to overrides.

``hydra.sweeper.params`` (and sweeps on the command line) use the grammar users already know:

=====================================  =============================================
``interval(0.0, 0.5)``                 float, uniform
``tag(log, interval(1e-4, 1e-1))``     float, log-uniform
``int(interval(8, 128))``              int, uniform (``tag(log, ...)`` for log)
``range(1, 9)`` / ``range(1, 9, 2)``   int steps, ordered (stop excluded, as in Python)
``range(0.1, 0.5, 0.1)``               the listed floats, as a categorical
``choice(16, 32, 64)`` / ``16,32,64``  categorical (lists allowed: ``choice([64],[64,32])``)
``5``                                  fixed: the same override in every trial
=====================================  =============================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (ChoiceSweep, IntervalSweep, Override, QuotedString, RangeSweep,
                                              Transformer)
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import Trial

from recbench.errors import RecbenchError, require


@dataclass
class SearchSpace:
    """What each trial samples, and the overrides every trial shares.

    Attributes:
        distributions: parameter (config key) -> Optuna distribution, in declaration order.
        fixed: ``key=value`` overrides given to every trial unchanged.
        choice_overrides: for categorical parameters, Optuna's stored value -> override text
            (a list choice is stored by Optuna as its text, ``"[64,32]"``).
    """

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    choice_overrides: dict[str, dict[Any, str]] = field(default_factory=dict)

    def describe(self) -> dict[str, str]:
        """A JSON-able description, stored with the study to detect a changed space on resume."""
        return {name: repr(dist) for name, dist in self.distributions.items()}

    def grid(self) -> dict[str, list]:
        """Every parameter's values, for the grid sampler (which needs a discrete space)."""
        values = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                values[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                values[name] = list(range(dist.low, dist.high + 1, dist.step))
            else:
                raise RecbenchError(f"the grid sampler needs discrete parameters, but {name} is {dist}: "
                                    f"use choice(...) or range(...) for it, or another sampler")
        return values

    def suggest(self, trial: Trial) -> dict[str, Any]:
        """Sample every parameter through ``trial`` (the study's sampler); returns name -> value."""
        params = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, FloatDistribution):
                params[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
            elif isinstance(dist, IntDistribution):
                params[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
            else:
                params[name] = trial.suggest_categorical(name, dist.choices)
        return params

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """The fixed overrides plus one ``key=value`` override per sampled parameter."""
        sampled = []
        for name, value in params.items():
            if name in self.choice_overrides:
                text = self.choice_overrides[name][value]
            elif isinstance(value, float):
                text = repr(value)  # shortest text that parses back to the same float
            else:
                text = Transformer.str(value)
            sampled.append(f"{name}={text}")
        return self.fixed + sampled


def parse_space(params: dict[str, Any] | None, arguments: list[str]) -> SearchSpace:
    """Build the space from ``hydra.sweeper.params`` and the command line (which wins on a key).

    Args:
        params: key -> value text in the override grammar (or a plain value: fixed).
        arguments: the multirun's command-line overrides, e.g. ``["model.dropout=0.1,0.2", "seed=1"]``.
    """
    lines = []
    for key, value in (params or {}).items():
        if not isinstance(value, str):
            value = Transformer.str(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
        lines.append(f"{key}={value}")
    parser = OverridesParser.create()
    try:
        overrides = parser.parse_overrides(lines + list(arguments))
    except Exception as error:  # Hydra's grammar errors name the offending override
        raise RecbenchError(f"cannot parse the search space (hydra.sweeper.params or the command line): "
                            f"{error}") from None

    by_key: dict[str, Override] = {}
    for override in overrides:
        by_key[override.get_key_element()] = override  # later (command line) wins

    space = SearchSpace()
    for key, override in by_key.items():
        if not override.is_sweep_override():
            space.fixed.append(override.input_line)
            continue
        if override.is_hydra_override() or override.get_key_element().startswith(("+", "~")):
            raise RecbenchError(f"cannot search over {key}: only existing keys of the run config can "
                                "be searched")
        space.distributions[key] = _distribution(key, override, space)
    return space


def _distribution(key: str, override: Override, space: SearchSpace) -> BaseDistribution:
    value = override.value()
    tags = set(value.tags)
    require(tags <= {"log"}, f"unsupported tag {sorted(tags - {'log'})} on {key}: only tag(log, ...) is "
                             "understood")
    log = "log" in tags
    if isinstance(value, IntervalSweep):
        require(value.start < value.end, f"{key}: interval({value.start}, {value.end}) is empty: the "
                                         "lower bound must be below the upper bound")
        require(not log or value.start > 0, f"{key}: a log interval needs a lower bound > 0, got "
                                            f"{value.start}")
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    if isinstance(value, RangeSweep):
        values = _range_values(value)
        require(len(values) > 0, f"{key}: range({value.start}, {value.stop}, {value.step}) is empty")
        step = value.step if value.step is not None else 1
        if all(isinstance(v, int) for v in values) and step > 0 and len(values) > 1 and (step == 1 or not log):
            return IntDistribution(values[0], values[-1], step=step, log=log)
        return _categorical(key, values, space)
    assert isinstance(value, ChoiceSweep), value
    require(not log, f"{key}: tag(log, ...) applies to interval and range, not to choice")
    values = list(override.sweep_iterator(transformer=Transformer.identity))
    require(len(values) > 0, f"{key}: choice() needs at least one value")
    return _categorical(key, values, space)


def _range_values(sweep: RangeSweep) -> list:
    """The values of ``range(start, stop, step)``; float ones without binary noise (0.3, not
    0.30000000000000004), and the stop excluded as for ints."""
    if isinstance(sweep.range(), range):
        return list(sweep.range())
    step = sweep.step if sweep.step is not None else 1
    require(step != 0, "range(...) needs a step other than 0")
    count = max(0, math.ceil((sweep.stop - sweep.start) / step - 1e-9))
    return [float(f"{sweep.start + i * step:.12g}") for i in range(count)]


def _categorical(key: str, values: list, space: SearchSpace) -> CategoricalDistribution:
    # Optuna stores int, float, str, bool and None; anything else (a list) is stored as its text.
    stored = [v.text if isinstance(v, QuotedString) else None if v is None else Transformer.encode(v)
              for v in values]
    for v in stored:
        require(not (isinstance(v, float) and math.isnan(v)), f"{key}: nan is not a valid choice")
    require(len(set(map(repr, stored))) == len(stored), f"{key}: choice() lists a value twice: {stored}")
    space.choice_overrides[key] = {s: Transformer.str(v) for s, v in zip(stored, values)}
    return CategoricalDistribution(stored)
