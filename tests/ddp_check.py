"""A DDP run over 2 CPU processes against a single-process evaluation of its own checkpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from recbench.config import build
from recbench.data.loading import load_dataset
from recbench.evaluation.evaluator import Evaluator
from tests.helpers import compose_config

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nothing listens on now, for the processes' rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_ddp_matches_a_single_process(overrides: list[str], tmp_path: Path, timeout: int = 300,
                                        sequences: Callable | None = None, nodes: int = 1) -> list[str]:
    """Train with ``trainer=ddp`` on 2 CPU processes, then evaluate ``best.ckpt`` in this process.

    Each test user must be counted once and the test metrics must agree. ``sequences(split, model)``
    gives a sequence model's time-ordered histories for the single-process evaluation. With
    ``nodes=2`` the two processes are two "nodes" of one device each (``trainer.num_nodes=2``),
    started separately with ``NODE_RANK`` 0 and 1, as on machines without SLURM.

    Returns:
        With ``nodes=2``, each node's console output; else an empty list.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "run.py", "logger=none", "trainer=ddp", f"trainer.devices={2 // nodes}",
               f"trainer.num_nodes={nodes}", "trainer.accelerator=cpu", "trainer.max_epochs=2",
               "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path}", *overrides]
    outputs = []
    if nodes == 1:
        subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=timeout)
    else:
        rendezvous = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
        logs = [(tmp_path.parent / f"{tmp_path.name}-node{rank}.log").open("w") for rank in range(nodes)]
        started = [subprocess.Popen(command, cwd=ROOT, env={**env, **rendezvous, "NODE_RANK": str(rank)},
                                    stdout=log, stderr=subprocess.STDOUT) for rank, log in enumerate(logs)]
        try:
            assert [process.wait(timeout=timeout) for process in started] == [0] * nodes
        finally:
            for process, log in zip(started, logs):
                if process.poll() is None:
                    process.kill()
                log.close()
        outputs = [Path(log.name).read_text() for log in logs]
    results = json.loads((tmp_path / "results.json").read_text())

    cfg = compose_config(overrides, tmp_path / "single", tiny=False)
    data = load_dataset(cfg.dataset)
    split = build(cfg.split, "split")(data, seed=cfg.seed)
    model = instantiate(cfg.model, n_users=data.n_users, n_items=data.n_items)
    state = torch.load(tmp_path / "checkpoints/best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    model.eval()
    extra = [sequences(split, model)] if sequences is not None else []
    single = Evaluator(list(cfg.evaluation.ks), 17).evaluate(model, *split.stage("test"), "test",
                                                              torch.device("cpu"), *extra)
    assert len(single.users) == (split.test.getnnz(axis=1) > 0).sum()
    expected = single.summary("test")
    got = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
    # The run also records item segments and beyond-accuracy metrics; the plain evaluator's must agree.
    assert expected.keys() <= got.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    return outputs
