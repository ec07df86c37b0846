"""Run one experiment: ``python run.py model=mlp`` (add ``-m`` for sweeps)."""

import hydra
from omegaconf import DictConfig

from recbench.experiment import main as run_experiment


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_experiment(cfg)


if __name__ == "__main__":
    main()
