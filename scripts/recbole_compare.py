"""RecBole 1.2.1's SASRec, GRU4Rec and BERT4Rec on recbench's exact leave-one-out split and metrics.

RecBole is not a recbench dependency: run this with a Python that has RecBole installed (its own
virtual environment) and recbench importable (``PYTHONPATH`` at the checkout), e.g.

    PYTHONPATH=$PWD RECBENCH_DATA_DIR=... <recbole-venv>/bin/python scripts/recbole_compare.py \
        --model SASRec --epochs 5

The venv used here: ``python -m venv <recbole-venv>``, a ``.pth`` file naming recbench's
site-packages (torch, numpy, scipy, hydra... are shared, not reinstalled), then
``pip install --no-deps recbole==1.2.1 colorlog==4.7.2 colorama==0.4.4 thop tabulate texttable
"pandas==2.2.3" pytz`` (RecBole 1.2.1's ID remapping assigns a list of arrays to a DataFrame
column, which pandas 3 rejects).

What it does:

1. builds recbench's split (``split=leave_one_out``, the seed) and writes it as RecBole
   benchmark files (``benchmark_filename``): sequential models read pre-augmented rows ``user,
   preceding items, target`` — every prefix of each training sequence in ``.train.inter``, the
   training history and validation target in ``.valid.inter``, training + validation history and
   test target in ``.test.inter`` (each history cut to the latest ``MAX_ITEM_LIST_LENGTH`` items);
2. trains RecBole's model with its own trainer (early stopping on its validation NDCG@10);
3. scores every test user with the model's ``full_sort_predict`` and ranks through recbench's
   evaluator, so the metrics, the tie-breaking and the exclusion of known items are recbench's.
   RecBole's own full ranking does not exclude a sequential user's history; both numbers are
   printed, labelled.

Patches (applied at import time here, RecBole's files untouched): NumPy 2 removed ``np.float_``,
``np.complex_``, ``np.unicode_`` (which RecBole's ``Config`` aliases) and ``np.float``/``np.long``
(which its metrics use); ``torch.utils.tensorboard`` is stubbed (RecBole imports it
at module level; nothing here logs to TensorBoard). RecBole's best epoch is kept in
memory (:func:`keep_best_in_memory`) rather than written as its pickled checkpoint and read back,
which torch >= 2.6 refuses and recbench's code never does (its tests scan for that).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch


def apply_patches() -> None:
    """Make RecBole 1.2.1 importable on NumPy 2 and without TensorBoard."""
    # Config.compatibility_settings aliases np.float = np.float_ etc.; NumPy 2 removed the right-hand sides.
    for alias, kind in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_),
                        ("float", float), ("long", np.int64)):
        if alias not in np.__dict__:
            setattr(np, alias, kind)
    stub = types.ModuleType("torch.utils.tensorboard")

    class SummaryWriter:  # a writer that writes nothing
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    stub.SummaryWriter = SummaryWriter
    sys.modules["torch.utils.tensorboard"] = stub


def keep_best_in_memory(trainer) -> dict:
    """Make RecBole's trainer keep its best epoch's weights in memory instead of in a checkpoint file.

    RecBole writes its best epoch as a pickle (its config object inside) and reads it back with a
    plain ``torch.load``, which torch >= 2.6 refuses; nothing here unpickles a file, so the weights
    it would have saved are copied where it saves them.
    """
    best: dict = {}

    def save_checkpoint(epoch, verbose=True, **kwargs):
        best["epoch"] = epoch
        best["state_dict"] = {name: value.detach().clone() for name, value in trainer.model.state_dict().items()}

    trainer._save_checkpoint = save_checkpoint
    return best


def build_recbole_run(config):
    """RecBole's dataset, its three data loaders, the model and its trainer, seeded from ``config``.

    Returns ``(dataset, (train, valid, test), model, trainer, best)``, ``best`` being where the
    trainer keeps its best epoch's weights (:func:`keep_best_in_memory`).
    """
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    loaders = data_preparation(config, dataset)
    model = get_model(config["model"])(config, loaders[0].dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    return dataset, loaders, model, trainer, keep_best_in_memory(trainer)


def write_benchmark_files(split, folder: Path, name: str, max_len: int) -> None:
    """RecBole benchmark files of a recbench split (item and user tokens are recbench indices)."""
    from recbench.data.sequences import build_sequences
    from recbench.results import write_text

    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"

    def rows(sequences, users, targets) -> str:
        lines = []
        for user, target in zip(users, targets):
            history = sequences.items[sequences.indptr[user]:sequences.indptr[user + 1]][-max_len:]
            lines.append(f"{user}\t{' '.join(map(str, history))}\t{target}")
        return header + "\n".join(lines) + "\n"

    train = build_sequences(split, "train")
    # every prefix of each training sequence predicts its next item (RecBole's augmentation)
    train_lines = []
    for user in range(train.n_users):
        items = train.items[train.indptr[user]:train.indptr[user + 1]]
        for t in range(1, len(items)):
            train_lines.append(f"{user}\t{' '.join(map(str, items[max(0, t - max_len):t]))}\t{items[t]}")
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / f"{name}.train.inter", header + "\n".join(train_lines) + "\n")
    for stage in ("valid", "test"):
        target = getattr(split, stage).tocoo()
        write_text(folder / f"{name}.{stage}.inter", rows(build_sequences(split, stage), target.row, target.col))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRec", choices=["SASRec", "GRU4Rec", "BERT4Rec"])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--loss", default="CE", choices=["CE", "BPR"])
    parser.add_argument("--batch-size", type=int, default=2048, help="train_batch_size (RecBole's default)")
    parser.add_argument("--stopping-step", type=int, default=5,
                        help="validations without improvement before RecBole stops (its default is 10; the "
                             "runs in docs/sequential.md used 5)")
    parser.add_argument("--out", type=Path, default=Path("outputs/recbole_compare"))
    args = parser.parse_args()
    apply_patches()

    from omegaconf import OmegaConf
    from recbole.config import Config
    from recbole.data.interaction import Interaction

    from recbench.data.loading import load_dataset
    from recbench.data.sequences import history_sequences
    from recbench.data.split import LeaveOneOut
    from recbench.evaluation.evaluator import EvaluationBatches, Evaluator

    root = Path(__file__).resolve().parents[1]
    data = load_dataset(OmegaConf.load(root / "conf" / "dataset" / f"{args.dataset}.yaml"))
    split = LeaveOneOut()(data, seed=args.seed)  # the split recbench builds for split=leave_one_out
    name = f"{args.dataset}-loo-seed{args.seed}"
    folder = args.out / "data"
    write_benchmark_files(split, folder / name, name, args.max_len)

    config = Config(model=args.model, dataset=name, config_dict={
        "data_path": str(folder), "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id_list", "item_id"]},
        "alias_of_item_id": ["item_id_list"], "MAX_ITEM_LIST_LENGTH": args.max_len,
        "epochs": args.epochs, "train_batch_size": args.batch_size, "eval_batch_size": 256,
        "stopping_step": args.stopping_step,
        "loss_type": args.loss, "train_neg_sample_args": None if args.loss == "CE" else {"uniform": 1},
        "metrics": ["NDCG", "Hit", "MRR"], "topk": [10], "valid_metric": "NDCG@10",
        "eval_args": {"split": None, "order": "TO", "mode": "full", "group_by": "user"},
        "seed": args.seed, "reproducibility": True, "device": "cpu", "use_gpu": False,
        "checkpoint_dir": str(args.out / "saved"), "show_progress": False, "log_wandb": False,
    })
    dataset, (train_data, valid_data, test_data), model, trainer, best = build_recbole_run(config)
    start = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    train_seconds = time.perf_counter() - start
    model.load_state_dict(best["state_dict"])  # the best validation epoch, as RecBole would restore it
    recbole_own = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    model.eval()

    # recbench's evaluator on the same users, histories and targets, known items excluded
    tokens = dataset.field2id_token["item_id"]  # internal id -> token (recbench item index); 0 = [PAD]
    to_internal = np.zeros(data.n_items, dtype=np.int64)
    known = np.array([t != "[PAD]" for t in tokens])
    to_internal[np.array([int(t) for t in tokens[known]])] = np.flatnonzero(known)
    sequences = history_sequences(split, "test", args.max_len)  # [n_users, max_len], PAD = -1
    history, target = split.stage("test")
    accumulator = Evaluator([10], 256).accumulator(data.n_items, "test")
    start = time.perf_counter()
    with torch.no_grad():
        for batch in EvaluationBatches(history, target, 256, sequences=sequences):
            seq = batch["sequence"]
            internal = torch.where(seq >= 0, torch.from_numpy(to_internal)[seq.clamp(min=0)], 0)
            interaction = Interaction({"item_id_list": internal, "item_length": (seq >= 0).sum(1)})
            scores = model.full_sort_predict(interaction).view(len(seq), -1)  # [B, n_internal]
            ours = torch.full((len(seq), data.n_items), float("-inf"))
            ours[:, torch.from_numpy(np.array([int(t) for t in tokens[known]]))] = scores[:, torch.from_numpy(
                np.flatnonzero(known))]
            accumulator.add(batch["users"], ours, batch["history"], batch["target"])
    metrics = accumulator.gather().summary("test")
    result = {"model": args.model, "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs,
              "stopping_step": args.stopping_step, "best_epoch": best.get("epoch"),
              "max_len": args.max_len, "loss": args.loss, "batch_size": args.batch_size, "train_seconds": train_seconds,
              "eval_seconds": time.perf_counter() - start,
              "recbench_metrics_history_excluded": {k: metrics[f"test/{k}"] for k in ("ndcg@10", "hitrate@10", "mrr@10")},
              "recbole_own_metrics_history_not_excluded": {k: float(v) for k, v in recbole_own.items()}}
    print(json.dumps(result, indent=2))
    (args.out / f"{args.model}_{name}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
