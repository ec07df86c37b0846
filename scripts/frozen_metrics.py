"""Run the frozen ML-100K experiments (seed 1) in one process and write their metrics as JSON.

Gradient models train for at most ``--max-epochs`` epochs so the whole set runs in minutes; the
point is an exact before/after comparison of a refactor, not the published numbers.

    python scripts/frozen_metrics.py --out before.json
    python scripts/frozen_metrics.py --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import open_dict  # noqa: E402

from recbench.experiment import train  # noqa: E402

FIT = ["pop", "itemknn", "userknn", "puresvd", "ease", "slim", "ials"]
GRADIENT = ["mf", "gmf", "mlp", "neumf", "multvae", "multdae", "recvae", "cfgan"]
SEQUENTIAL_FIT = ["markov"]
SEQUENTIAL = ["gru4rec", "sasrec", "bert4rec"]  # their frozen experiments are leave-one-out: *_ml100k_loo


def run(experiment: str, overrides: list[str], output_dir: Path) -> dict:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["logger=none", f"experiment={experiment}", "seed=1",
                                           "trainer.enable_progress_bar=false", *overrides],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg["hydra"]
    train(cfg)
    return json.loads((output_dir / "results.json").read_text())["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--compare", help="an earlier --out file to compare with")
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=FIT + GRADIENT + SEQUENTIAL_FIT + SEQUENTIAL)
    args = parser.parse_args()
    metrics = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            extra = [] if model in FIT + SEQUENTIAL_FIT else [f"trainer.max_epochs={args.max_epochs}"]
            experiment = f"{model}_ml100k_loo" if model in SEQUENTIAL_FIT + SEQUENTIAL else f"{model}_ml100k"
            metrics[model] = run(experiment, extra, Path(tmp) / model)
            print(model, {k: round(v, 6) for k, v in metrics[model].items() if k.endswith("ndcg@20")}, flush=True)
    Path(args.out).write_text(json.dumps(metrics, indent=1))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        worst = 0.0
        for model, values in metrics.items():
            for key, value in values.items():
                old = before.get(model, {}).get(key)
                if old is None:
                    continue
                diff = abs(value - old) if not (math.isnan(value) and math.isnan(old)) else 0.0
                worst = max(worst, diff)
                if diff > 1e-9:
                    print(f"CHANGED {model} {key}: {old} -> {value}")
        print(f"largest difference over {len(metrics)} models: {worst:.3g}")


if __name__ == "__main__":
    main()
