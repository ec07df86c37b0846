"""Keep the large blocks a run allocates again and again in the heap, not in fresh mappings.

Evaluation and training allocate the same large temporaries batch after batch: a batch's scores,
masks and top-k keys are ``[256, n_items]`` blocks of 27-55 MB at ML-20M's size. glibc's malloc
serves every block above its mmap threshold (at most 32 MB by default) with a new ``mmap`` and
returns it with ``munmap`` when freed, and it trims freed memory at the top of the heap back to
the system; either way the next batch's block is new memory, and the kernel zero-fills it page by
page. At ML-20M's size that was a third of iALS's evaluation (18.0 and 11.9 s per stage against
11.1 and 10.9 s with the settings below) and a third of its fit (53.7 against 36.8 s), measured
with ``scripts/bench_scale.py`` on 2 idle cores. PyTorch's CPU tuning guide recommends another
allocator (jemalloc, tcmalloc) for the same reason; these two settings get that gain without one.

Blocks up to ``MMAP_THRESHOLD`` now come from the heap, and up to ``TRIM_THRESHOLD`` of free
memory is kept at its top; larger blocks (EASE's ``n_items^2`` matrix) are still mapped and
returned to the system when freed, so peak memory does not grow by them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt's parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20  # bytes: blocks below this are served from the heap
TRIM_THRESHOLD = 512 << 20  # bytes of free memory kept at the heap's top


def keep_large_blocks_in_heap() -> bool:
    """Set glibc's mmap and trim thresholds for this process; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # a libc without mallopt (musl)
        return False
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        log.debug("glibc refused the malloc thresholds; large blocks stay mapped")
    return done
