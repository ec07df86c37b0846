"""Which runs are repetitions of one configuration: the grouping key.

Two runs belong to one group when their resolved configs agree on everything except the seed and
settings that cannot change a metric (where outputs go, the logger, progress bars, evaluation batch
size, which device ran it). Groups on the same dataset and split (with equal configs for both)
form a *block*: only groups in one block are compared with each other.
"""

from __future__ import annotations

import json

from recbench.leaderboard.collect import Run

# Top-level keys that say where and how a run was recorded, not what was computed.
NOISE_KEYS = {"seed", "paths", "logger", "hydra", "optimized_metric", "hparams_search", "debug", "experiment"}
# Keys inside groups that do not change results (device choice is assumed not to: a GPU run and a
# CPU run of one configuration are repetitions of it).
NOISE_SUBKEYS = {
    "trainer": {"accelerator", "devices", "num_nodes", "strategy", "enable_progress_bar",
                "enable_model_summary", "log_every_n_steps", "deterministic", "enable_checkpointing",
                "default_root_dir", "num_sanity_val_steps", "use_distributed_sampler", "_target_"},
    "evaluation": {"batch_size", "device", "save_recommendations", "beyond", "item_field", "user_groups",
                   "activity_bins"},
}
BLOCK_KEYS = ("dataset", "split")


def flatten(node, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def comparable_config(config: dict) -> dict:
    """The config without the seed and without the keys that cannot change a metric."""
    kept = {}
    for key, value in config.items():
        if key in NOISE_KEYS:
            continue
        if key in NOISE_SUBKEYS and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in NOISE_SUBKEYS[key]}
        kept[key] = value
    return kept


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def block_key(run: Run) -> str:
    """Dataset and split, by name and by config: groups in one block saw the same users."""
    config = comparable_config(run.config)
    return _canonical([run.dataset, run.split, {key: config.get(key) for key in BLOCK_KEYS}])


def group_key(run: Run, by_source: bool = False) -> str:
    """The block, the model and the rest of the config; with ``by_source`` also the PATH argument."""
    parts = [block_key(run), run.model, comparable_config(run.config)]
    if by_source:
        parts.append(run.source)
    return _canonical(parts)


def group_labels(groups: dict[str, list[Run]], by_source: bool = False) -> dict[str, str]:
    """A readable name per group: the model, plus the config keys that tell it apart from the
    other groups of the same model, dataset and split name (``mlp [model.optimizer.lr=1e-05]``,
    or ``pop [dataset.source.n_users=500]`` when two blocks share their names)."""
    families: dict[tuple[str, str, str], list[str]] = {}
    for key, runs in groups.items():
        families.setdefault((runs[0].dataset, runs[0].split, runs[0].model), []).append(key)
    labels = {}
    for (_, _, model), keys in families.items():
        flat = {key: flatten(comparable_config(groups[key][0].config)) for key in keys}
        names = sorted(set().union(*flat.values()))
        differing = [name for name in names if len({_canonical(flat[key].get(name)) for key in keys}) > 1]
        for key in keys:
            label = model
            if differing:
                label += " [" + ", ".join(f"{name}={flat[key].get(name)}" for name in differing) + "]"
            if by_source:
                label += f" @ {groups[key][0].source}"
            labels[key] = label
    return labels
