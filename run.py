"""Run one experiment: ``python run.py model=mlp`` (add ``-m`` for sweeps)."""

import gc

from recbench.allocator import keep_large_blocks_in_heap
from recbench.threads import prefer_passive_waiting

prefer_passive_waiting()  # before torch and numpy start their OpenMP runtimes (see recbench/threads.py)
keep_large_blocks_in_heap()  # batch-sized temporaries reuse memory (see recbench/allocator.py)

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float | None] | None:
    # Imported here, after Hydra has parsed the arguments: torch and Lightning take seconds to
    # import, which `--help` and `--cfg job` never need.
    from recbench.experiment import main as run_experiment

    return run_experiment(cfg)


if __name__ == "__main__":
    try:
        main()
    finally:
        # Exempt every object left from the interpreter's last garbage collections: with torch and
        # Lightning loaded they take over a second, after the run has finished. Exit handlers
        # (W&B's among them) still run.
        gc.freeze()
