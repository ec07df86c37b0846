"""glibc's thresholds: batch-sized blocks come from the heap and stay there for the next batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Allocates a 64 MB block (a [256, 26,744] int64 batch block is 55 MB), then frees it, and reports
# glibc's own accounts (mallinfo2) each time: bytes in separately mapped blocks, and free bytes
# the heap keeps for the next allocation.
PROBE = """
import ctypes, json, sys
import numpy as np
if sys.argv[1] == "keep":
    from recbench.allocator import keep_large_blocks_in_heap
    assert keep_large_blocks_in_heap()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = MallInfo2
block = np.ones(8_000_000)
alive = mallinfo2()
del block
freed = mallinfo2()
print(json.dumps({"mapped_alive": alive.hblkhd, "mapped_freed": freed.hblkhd, "heap_free_after": freed.fordblks}))
"""


def accounts(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and mallinfo2 are glibc's")
def test_batch_sized_blocks_come_from_the_heap_and_stay_for_the_next():
    default, kept = accounts("default"), accounts("keep")
    # glibc's default: the block is a mapping of its own, returned to the system when freed, so the
    # next batch's block is fresh memory that the kernel zero-fills again.
    assert default["mapped_alive"] >= 64_000_000 and default["mapped_freed"] < 64_000_000
    # recbench's settings: no mapping; once freed, the heap keeps the 64 MB for the next block.
    assert kept["mapped_alive"] < 64_000_000
    assert kept["heap_free_after"] >= 64_000_000
