"""Run one experiment: ``python run.py model=mlp`` (add ``-m`` for sweeps)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float | None] | None:
    # Imported here, after Hydra has parsed the arguments: torch and Lightning take seconds to
    # import, which `--help` and `--cfg job` never need.
    from recbench.experiment import main as run_experiment

    return run_experiment(cfg)


if __name__ == "__main__":
    main()
