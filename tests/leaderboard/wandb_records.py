"""Reads the records of an offline W&B run file (``run-<id>.wandb``), to check what a run logged.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then
32 KiB blocks of chunks ``crc32c (4) | length (2, LE) | type (1) | data``, where type 1 is a whole
record and 2/3/4 are its first/middle/last parts; each record is a protobuf ``Record``.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK, HEADER = 32768, 7


def read_records(path: Path) -> list:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pending, offset = [], b"", HEADER
    while offset + HEADER <= len(data):
        room = BLOCK - offset % BLOCK
        if room < HEADER:  # the rest of a block too small for a chunk header is padding
            offset += room
            continue
        length, kind = struct.unpack_from("<HB", data, offset + 4)
        chunk = data[offset + HEADER: offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def finished_records(path: Path, timeout: float = 60.0) -> list:
    """The records once the run's ``exit`` record is on disk (W&B's service writes the file
    asynchronously, and may still be flushing when ``finish()`` returns)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(path) if Path(path).stat().st_size > HEADER else []
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        assert time.monotonic() < deadline, f"{path} has no exit record after {timeout} s"
        time.sleep(0.2)


def logged(path: Path) -> tuple[object, dict, dict, list[dict]]:
    """The run record, its config and final summary (key -> value) and each history row."""
    run, config, summary, history = None, {}, {}, []
    for record in finished_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        elif kind == "config":
            for item in record.config.update:
                config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
    return run, config, summary, history
