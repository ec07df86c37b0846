"""GPU smoke test and timings: every model trains and evaluates on the GPU, and the GPU's test
metrics equal a CPU evaluation of the same checkpoint (ranking is device-independent).

    python scripts/device_smoke.py --out results.json [--models mlp,mf,...] [--size ml1m|ml100k]

Runs in-process with the real configs (``trainer=gpu``, ``logger=none``) on the synthetic dataset.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from recbench.config import build
from recbench.data.loading import load_dataset
from recbench.data.split_cache import cached_split
from recbench.evaluation.evaluator import Evaluator
from recbench.experiment import train

CONF = Path(__file__).resolve().parent.parent / "conf"
SIZES = {
    "ml1m": ["dataset.source.n_users=6040", "dataset.source.n_items=3706", "dataset.source.mean_interactions=165"],
    "ml100k": ["dataset.source.n_users=943", "dataset.source.n_items=1682", "dataset.source.mean_interactions=106"],
}


def config(overrides: list[str], output_dir: Path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.cache_dir = str(output_dir / "cache")
        del cfg["hydra"]
    return cfg


def cpu_evaluation_of_checkpoint(cfg, output_dir: Path) -> dict:
    """Test metrics of the saved best checkpoint, evaluated in one CPU process."""
    data = load_dataset(cfg.dataset)
    split, _ = cached_split(cfg.split, data, seed=cfg.split.get("seed", cfg.seed), cache_dir=cfg.paths.cache_dir)
    model = build(cfg.model, "model", n_users=data.n_users, n_items=data.n_items)
    state = torch.load(output_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    model.eval()
    result = Evaluator(list(cfg.evaluation.ks), 256).evaluate(model, *split.stage("test"), "test", torch.device("cpu"))
    return result.summary("test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default="mlp,mf,gmf,neumf,multvae,multdae,cfgan,ease,ials,itemknn,pop")
    parser.add_argument("--size", default="ml1m", choices=sorted(SIZES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--trainer", default="gpu")
    args = parser.parse_args()
    report = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, "size": args.size, "runs": {}}
    for name in args.models.split(","):
        output_dir = Path(tempfile.mkdtemp(prefix=f"smoke-{name}-"))
        overrides = [f"model={name}", f"trainer={args.trainer}", "logger=none", f"trainer.max_epochs={args.epochs}",
                     "trainer.enable_progress_bar=false", "evaluation.patience=100", *SIZES[args.size]]
        try:
            cfg = config(overrides, output_dir)
            start = time.perf_counter()
            results = train(cfg)
            entry = {"wall_seconds": time.perf_counter() - start, **results["timing"],
                     "test/ndcg@10": results["metrics"]["test/ndcg@10"],
                     "test/recall@20": results["metrics"]["test/recall@20"]}
            if results["timing"]["epochs"]:
                entry["seconds_per_epoch"] = results["timing"]["train_seconds"] / results["timing"]["epochs"]
            if (output_dir / "checkpoints" / "best.ckpt").exists():
                cpu = cpu_evaluation_of_checkpoint(cfg, output_dir)
                gpu = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
                entry["max_abs_gpu_cpu_difference"] = max(abs(gpu[k] - cpu[k]) for k in gpu)
        except Exception as error:  # report every model, even when one fails
            entry = {"error": f"{type(error).__name__}: {error}"}
        report["runs"][name] = entry
        print(name, json.dumps(entry), flush=True)
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
