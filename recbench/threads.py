"""How many threads a run computes with, and how idle threads wait.

On a machine shared with other busy processes, every OpenMP/BLAS pool sized to all cores and
spinning while it waits for work turns a few runs into many more runnable threads than cores:
the spinning threads burn the time slices the working ones need, and each parallel region waits
at its barrier for a thread that is not scheduled. That is how runs slowed 30-60x (far beyond their
share of the CPU) with three of them on two cores. The run therefore uses a bounded thread count
(``threads``) in every pool it computes with (torch's, and numpy/scipy's BLAS through
threadpoolctl), and idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``).
"""

from __future__ import annotations

import logging
import os

from recbench.errors import require_positive

log = logging.getLogger(__name__)

# Read by the OpenMP runtime when it starts (on the first import of torch or numpy's BLAS), so
# these are set by the entry points before those imports; an explicit environment value wins.
PASSIVE_WAIT = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def prefer_passive_waiting() -> None:
    """Make idle OpenMP threads sleep rather than spin; call before torch or numpy is imported."""
    for name, value in PASSIVE_WAIT.items():
        os.environ.setdefault(name, value)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; cgroup-limited containers included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Size every compute thread pool of this process to ``threads`` (None: the cores available).

    Returns:
        The thread count applied.

    Raises:
        RecbenchError: ``threads`` is not a positive integer.
    """
    import torch
    from threadpoolctl import threadpool_limits

    count = available_cores() if threads is None else threads
    require_positive("threads", count, integer=True)
    count = int(count)
    torch.set_num_threads(count)
    threadpool_limits(limits=count)  # numpy/scipy BLAS and any other OpenMP pool already loaded
    log.info("computing with %d thread(s) (threads=%s)", count, threads)
    return count
