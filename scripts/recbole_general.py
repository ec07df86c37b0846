"""RecBole 1.2.1's general models (BPR, NeuMF, GMF, MLP, MultiVAE) on recbench's exact split and metrics.

This is the RecBole side of docs/neural.md's "RecBole comparison protocol": ML-100K, recbench's
``split=random`` (per-user random 80/10/10 drawn from the seed), training on the training part
only, early stopping on validation NDCG@10, and test NDCG@10 / Recall@10 / Precision@10 /
MRR@10 over a full ranking of all items with the known items (training + validation) excluded.

RecBole is not a recbench dependency: run this with a Python that has RecBole installed (its own
virtual environment) and recbench importable (``PYTHONPATH`` at the checkout), e.g.

    PYTHONPATH=$PWD RECBENCH_DATA_DIR=... <recbole-venv>/bin/python scripts/recbole_general.py \
        --model BPR
    ... --model NeuMF --set learning_rate=0.005 --set "mlp_hidden_size=[64,32]"

The venv is the one scripts/recbole_compare.py describes (``python -m venv``, a ``.pth`` file
naming recbench's site-packages, ``pip install --no-deps recbole==1.2.1 ...``).

What it does:

1. builds recbench's split from conf/split/random.yaml and the seed, as ``recbench train
   split=random seed=N`` does (its fingerprint is in the result), and writes it as RecBole
   benchmark files ``<name>.{train,valid,test}.inter`` whose user and item tokens are recbench's
   integer indices;
2. trains RecBole's model with its own trainer and its own default hyperparameters
   (recbole/properties/model/<Model>.yaml and overall.yaml), changed only by ``--set`` and
   ``--batch-size``; early stopping on RecBole's validation NDCG@10, best epoch kept in memory;
3. scores every test user with RecBole's own full-ranking path (``full_sort_predict``, or
   ``predict`` on every item for NeuMF, which has none), maps the scores to recbench's item
   order (items RecBole never saw get -inf) and ranks them through recbench's evaluator on
   ``split.stage("test")``, so metrics, tie-breaking and the exclusion of known items are
   recbench's. RecBole's own test metrics are recorded beside them.

GMF and MLP are RecBole's NeuMF with one tower switched off (``mf_train``/``mlp_train``).
RecBole's Recall@K is hits / |T|: recbench's ``recall_all@10``; recbench's ``recall@10`` divides
by min(K, |T|). RecBole's full ranking of a general model masks the user's training items at
validation and training + validation items at test (its sampler's ``used_ids`` less the
positives), as recbench does, so the two NDCG@10 agree up to tie-breaking.

Mult-VAE encodes a user's history into scores; RecBole's always encodes the training items, also
at test, where recbench's Mult-VAE encodes everything known (training + validation).
``--fold-in known`` gives RecBole's model recbench's test input (for both sets of metrics).

RecBole's defaults worth knowing when reading its times: ``train_batch_size`` 2048 counts users
for MultiVAE, so on ML-100K (943 users) an epoch is one optimizer step, and its KL weight grows
by 1/200000 (``total_anneal_steps``) per step; ``eval_batch_size`` 4096 counts scores, so a
full-ranking validation batch is 4096 // n_items users (2 on ML-100K). RecBole rounds its metrics,
the early-stopping score too, to 4 places (``metric_decimal_place``).

Patches and the in-memory best epoch are scripts/recbole_compare.py's (:func:`apply_patches`,
:func:`keep_best_in_memory`): nothing here unpickles RecBole's checkpoint.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts run as files: find the sibling harness
from recbole_compare import apply_patches, build_recbole_run

ROOT = Path(__file__).resolve().parents[1]
# --model -> (RecBole model, settings that make it that model)
MODELS = {
    "BPR": ("BPR", {}),
    "NeuMF": ("NeuMF", {}),
    "GMF": ("NeuMF", {"mf_train": True, "mlp_train": False}),
    "MLP": ("NeuMF", {"mf_train": False, "mlp_train": True}),
    "MultiVAE": ("MultiVAE", {}),
}
KS = [10]


def parse_settings(pairs: list[str]) -> dict:
    """``["key=value", ...]`` as a dict, each value read as YAML (``0.01``, ``[64,32]``, ``true``)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value, got {pair!r}")
        settings[key.strip()] = yaml.safe_load(value)
    return settings


def write_benchmark_files(split, folder: Path, name: str) -> None:
    """RecBole benchmark files of a recbench split: one ``user item`` row per interaction of each part."""
    from recbench.results import write_text

    for part in ("train", "valid", "test"):
        matrix = getattr(split, part).tocoo()
        rows = "".join(f"{user}\t{item}\n" for user, item in zip(matrix.row, matrix.col))
        write_text(folder / f"{name}.{part}.inter", "user_id:token\titem_id:token\n" + rows)


def token_map(dataset, field: str, size: int) -> np.ndarray:
    """RecBole's internal id of each recbench index (the token), -1 where RecBole never saw it."""
    tokens = dataset.field2id_token[field]  # internal id -> token; 0 is [PAD]
    internal = np.full(size, -1, dtype=np.int64)
    for internal_id, token in enumerate(tokens):
        if token != "[PAD]":
            internal[int(token)] = internal_id
    return internal


def watch_epochs(trainer) -> dict:
    """Time each of the trainer's training and validation passes, and print a line per epoch.

    RecBole's own epoch log goes to a logger this script does not configure (it would write
    files); these wrappers time the passes ``trainer.fit`` makes without changing them.
    """
    log = {"train_seconds": [], "valid_seconds": [], "valid_ndcg@10": []}
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

    def timed_train(train_data, epoch_idx, *args, **kwargs):
        start = time.perf_counter()
        loss = train_epoch(train_data, epoch_idx, *args, **kwargs)
        log["train_seconds"].append(time.perf_counter() - start)
        log["last_loss"] = float(sum(loss) if isinstance(loss, tuple) else loss)
        return loss

    def timed_valid(valid_data, *args, **kwargs):
        start = time.perf_counter()
        score, result = valid_epoch(valid_data, *args, **kwargs)
        log["valid_seconds"].append(time.perf_counter() - start)
        log["valid_ndcg@10"].append(float(score))
        print(f"epoch {len(log['train_seconds']) - 1}: loss {log['last_loss']:.4f}, "
              f"train {log['train_seconds'][-1]:.2f}s, valid {log['valid_seconds'][-1]:.2f}s, "
              f"valid ndcg@10 {score:.4f}", file=sys.stderr, flush=True)
        return score, result

    trainer._train_epoch, trainer._valid_epoch = timed_train, timed_valid
    return log


def fold_in_known(model, history, user_internal: np.ndarray, item_internal: np.ndarray) -> None:
    """Make an auto-encoder encode ``history`` (recbench ``[n_users, n_items]`` CSR) instead of
    the training items it read from RecBole's training set (``AutoEncoderMixin.history_item_*``)."""
    coo = history.tocoo()
    users, items = user_internal[coo.row], item_internal[coo.col]
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    counts = np.bincount(users, minlength=model.history_item_id.shape[0])
    position = np.arange(len(users)) - np.repeat(np.cumsum(counts) - counts, counts)
    ids = torch.zeros(len(counts), max(int(counts.max()), 1), dtype=torch.long)  # padded with item 0, [PAD]
    values = torch.zeros(ids.shape)
    ids[users, position] = torch.from_numpy(items)
    values[users, position] = 1.0
    model.history_item_id, model.history_item_value = ids.to(model.device), values.to(model.device)


def recbench_metrics(trainer, split, n_items: int, user_internal: np.ndarray,
                     item_internal: np.ndarray, batch_size: int = 128) -> dict[str, float]:
    """Test metrics of recbench's evaluator on the trainer's model scores, known items excluded.

    Scores come from RecBole's own full-ranking step (``trainer._full_sort_batch_eval``, run
    without a history mask: recbench masks), which calls ``full_sort_predict`` or, where a model
    has none (NeuMF), ``predict`` on every item. ``trainer.evaluate`` must have run first: it
    sets the item tensor and item count that step reads.
    """
    from recbole.data.interaction import Interaction

    from recbench.evaluation.evaluator import EvaluationBatches, Evaluator

    seen = np.flatnonzero(item_internal >= 0)  # recbench items RecBole has an id for
    seen_internal = torch.from_numpy(item_internal[seen])
    seen = torch.from_numpy(seen)
    history, target = split.stage("test")
    accumulator = Evaluator(KS, batch_size).accumulator(n_items, "test")
    with torch.no_grad():
        for batch in EvaluationBatches(history, target, batch_size):
            users = torch.from_numpy(user_internal[batch["users"].numpy()])
            interaction = Interaction({trainer.config["USER_ID_FIELD"]: users})
            _, scores, _, _ = trainer._full_sort_batch_eval((interaction, None, None, None))  # [B, n_internal]
            ours = torch.full((len(users), n_items), float("-inf"))
            ours[:, seen] = scores.cpu()[:, seen_internal]
            accumulator.add(batch["users"], ours, batch["history"], batch["target"])
    summary = accumulator.gather().summary("test")
    names = ("ndcg", "recall", "recall_all", "precision", "mrr", "hitrate")
    return {f"{name}@{k}": summary[f"test/{name}@{k}"] for k in KS for name in names}


def hyperparameters(config, recbole_model: str, settings: dict) -> dict:
    """The settings this run trained with: the model's own keys, the training ones and every override."""
    import recbole

    model_yaml = Path(recbole.__file__).parent / "properties" / "model" / f"{recbole_model}.yaml"
    keys = list(yaml.safe_load(model_yaml.read_text()) or {})
    keys += ["train_batch_size", "eval_batch_size", "learner", "learning_rate", "weight_decay",
             "train_neg_sample_args", "epochs", "stopping_step", "eval_step", "valid_metric"]
    keys += [key for key in settings if key not in keys]
    return {key: config[key] for key in keys}


def run_name(args, settings: dict) -> str:
    """File name of the result: model, data, seed, and any --set overrides."""
    name = f"{args.model}_{args.dataset}-random-seed{args.seed}"
    if args.batch_size is not None:
        settings = {"train_batch_size": args.batch_size, **settings}
    if args.fold_in != "train":
        settings = {"fold_in": args.fold_in, **settings}
    suffix = "".join("_" + re.sub(r"[^\w.=,-]", "", f"{key}={value}") for key, value in settings.items())
    if len(suffix) > 120:  # too long to read, or for the file system: a digest (the settings are in the JSON)
        suffix = "_" + hashlib.sha256(suffix.encode()).hexdigest()[:12]
    return name + suffix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=list(MODELS))
    parser.add_argument("--dataset", default="ml-100k", help="a conf/dataset/<name>.yaml")
    parser.add_argument("--seed", type=int, default=1, help="the split's and RecBole's seed")
    parser.add_argument("--epochs", type=int, default=300, help="at most this many epochs")
    parser.add_argument("--stopping-step", type=int, default=10,
                        help="RecBole's rule: stop once more than this many validations in a row fall "
                             "below the best NDCG@10 (rounded to 4 places; a tie counts as a new best)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="train_batch_size (default: RecBole's, 2048 rows; users for MultiVAE)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a RecBole setting, value read as YAML; repeatable, applied last")
    parser.add_argument("--fold-in", choices=["train", "known"], default="train",
                        help="what MultiVAE encodes at test: training items (RecBole) or training + "
                             "validation items (recbench)")
    parser.add_argument("--out", type=Path, default=Path("outputs/recbole_general"),
                        help="results (<model>_<dataset>-random-seed<N>[_overrides].json), data/, saved/")
    args = parser.parse_args()
    settings = parse_settings(args.set)
    sys.argv = sys.argv[:1]  # RecBole's Config would also read any --key=value here as a setting
    apply_patches()

    from omegaconf import OmegaConf
    from recbole.config import Config

    from recbench.config import build
    from recbench.data.loading import load_dataset
    from recbench.data.split_cache import split_fingerprint
    from recbench.results import write_json

    data = load_dataset(OmegaConf.load(ROOT / "conf" / "dataset" / f"{args.dataset}.yaml"))
    split_cfg = OmegaConf.load(ROOT / "conf" / "split" / "random.yaml")
    split = build(split_cfg, "split")(data, seed=args.seed)  # what recbench trains on for split=random
    # Not a RecBole dataset name: RecBole would otherwise merge its own properties/dataset/<name>.yaml.
    name = f"{args.dataset}-random-seed{args.seed}"
    folder = args.out / "data"
    write_benchmark_files(split, folder / name, name)

    recbole_model, variant = MODELS[args.model]
    config_dict = {
        "data_path": str(folder), "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "eval_args": {"split": None, "order": "RO", "mode": "full", "group_by": "user"},
        "metrics": ["NDCG", "Recall", "Precision", "MRR", "Hit"], "topk": KS, "valid_metric": "NDCG@10",
        "epochs": args.epochs, "stopping_step": args.stopping_step,
        "seed": args.seed, "reproducibility": True, "device": "cpu", "use_gpu": False,
        "checkpoint_dir": str(args.out / "saved"), "show_progress": False, "log_wandb": False,
        **variant,
    }
    if args.batch_size is not None:
        config_dict["train_batch_size"] = args.batch_size
    config_dict.update(copy.deepcopy(settings))  # RecBole's Config fills defaults into the dicts it is given
    config = Config(model=recbole_model, dataset=name, config_dict=config_dict)
    dataset, (train_data, valid_data, test_data), model, trainer, best = build_recbole_run(config)
    epochs = watch_epochs(trainer)

    start = time.perf_counter()
    best_valid_score, _ = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    train_seconds = time.perf_counter() - start
    model.load_state_dict(best["state_dict"])  # the best validation epoch, as RecBole would restore it

    user_internal = token_map(dataset, "user_id", data.n_users)
    item_internal = token_map(dataset, "item_id", data.n_items)
    if args.fold_in == "known" and hasattr(model, "history_item_id"):
        fold_in_known(model, split.test_history, user_internal, item_internal)
    start = time.perf_counter()
    recbole_own = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    recbole_eval_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ours = recbench_metrics(trainer, split, data.n_items, user_internal, item_internal)
    eval_seconds = time.perf_counter() - start

    epochs_run = len(epochs["train_seconds"])
    result = {
        "model": args.model, "recbole_model": recbole_model, "dataset": args.dataset, "seed": args.seed,
        "split": "random", "split_fingerprint": split_fingerprint(data, split_cfg, args.seed),
        "split_counts": split.counts(), "fold_in": args.fold_in, "overrides": settings,
        "hyperparameters": hyperparameters(config, recbole_model, settings),
        "max_epochs": args.epochs, "epochs_run": epochs_run, "best_epoch": best.get("epoch"),
        "train_seconds": train_seconds,  # trainer.fit: training and validation passes
        "seconds_per_epoch": train_seconds / max(epochs_run, 1),
        "epoch_train_seconds": epochs["train_seconds"], "epoch_valid_seconds": epochs["valid_seconds"],
        "valid_ndcg@10": epochs["valid_ndcg@10"], "best_valid_ndcg@10": float(best_valid_score),
        "eval_seconds": eval_seconds, "recbole_eval_seconds": recbole_eval_seconds,
        "unseen_items": int((item_internal < 0).sum()),
        "recbench_metrics": ours,  # recall@10: hits / min(10, |T|); recall_all@10: hits / |T|
        "recbole_metrics": {key: float(value) for key, value in recbole_own.items()},  # recall@10: hits / |T|
    }
    path = args.out / f"{run_name(args, settings)}.json"
    write_json(path, result)
    print(yaml.safe_dump({k: result[k] for k in ("model", "epochs_run", "best_epoch", "train_seconds",
                                                 "eval_seconds", "recbench_metrics", "recbole_metrics")},
                         sort_keys=False), end="")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
