"""The wait and hold histograms of the leases a lock grants and releases itself, added to Redis in batches.

The uncontended acquire and release scripts keep no histogram (three HINCRBYs inside the scripts cost about
a sixth of a lease pair's server time). The lock counts those observations here, in the process, and adds
them to each device's stats hash (``config.keys.GPU_STATS``, the fields the Lua ``observe`` writes, which
``gpu_lock.status`` reads) in one pipelined round trip: ``FLUSH_AFTER_S`` after the first observation not
yet sent (from a timer thread), and at ``GpuLock.close``. Readers (``/v1/monitor/gpu-locks``, ``/metrics``,
the console) thus see a lease's wait and hold at most ``FLUSH_AFTER_S`` late; a process killed with
observations not yet sent loses them (at most ``FLUSH_AFTER_S`` of its leases). What contention counts
(hand-overs, expired leases, force releases, leaving waiters) stays in the scripts.
"""

from __future__ import annotations

import os
import threading
from collections import deque

import structlog
from redis import Redis
from redis.exceptions import RedisError

from gpu_lock.task_figures import BUCKETS_S

log = structlog.get_logger(__name__)

FLUSH_AFTER_S = 1.0
# (bound in ms, its `le` label): the Lua observe's bounds (queue.lua BUCKETS), labelled as the readers spell them.
_BOUNDS = tuple((bound * 1000, f"{bound:g}") for bound in BUCKETS_S)


def bucket_of(ms: int) -> str:
    """Return the ``le`` label of the bucket that ``ms`` falls into (``+Inf`` past the last bound)."""
    for bound_ms, label in _BOUNDS:
        if ms <= bound_ms:
            return label
    return "+Inf"


class LeaseFigures:
    """Observations not yet in Redis; thread-safe (``observe`` takes no lock: a deque append).

    They are sent through the client, not the lock's channel: a pending timer keeps only the client alive, so
    a lock dropped without ``close`` still gives its kept connections back. A forked child starts with none.
    """

    def __init__(self, client: Redis, flush_after_s: float = FLUSH_AFTER_S) -> None:
        self._client = client
        self._flush_after_s = flush_after_s
        self._observed: deque[tuple[bytes, str, int]] = deque()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._pid = os.getpid()

    def observe(self, stats_key: bytes, name: str, ms: int) -> None:
        """Count ``ms`` in histogram ``name`` (``wait_seconds`` or ``hold_seconds``) of the device ``stats_key``."""
        if self._pid != os.getpid():
            self._forked()
        self._observed.append((stats_key, name, ms))
        if self._timer is None:  # checked after the append: a flush that missed it has cleared the timer first
            with self._lock:
                if self._timer is None:
                    self._timer = threading.Timer(self._flush_after_s, self.flush)
                    self._timer.daemon = True
                    self._timer.start()

    def flush(self) -> None:
        """Add every pending observation to Redis now (one round trip); a Redis error drops them, logged."""
        if self._pid != os.getpid():
            self._forked()
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        increments: dict[tuple[bytes, str], int] = {}
        observed = self._observed
        while True:
            try:
                key, name, ms = observed.popleft()
            except IndexError:  # drained (a flush from another thread may take the last ones)
                break
            bucket = (key, f"{name}_bucket:{bucket_of(ms)}")
            increments[bucket] = increments.get(bucket, 0) + 1
            if ms:
                total = (key, f"{name}_ms_sum")
                increments[total] = increments.get(total, 0) + ms
        if not increments:
            return
        pipe = self._client.pipeline(transaction=False)
        for (key, field), increment in increments.items():
            pipe.hincrby(key, field, increment)
        try:
            pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("lease_figures_not_kept", fields=len(increments), error=str(exc))

    def _forked(self) -> None:
        """Start a forked child with nothing pending: the parent sends its own, and its timer is not the child's."""
        self._observed, self._timer, self._pid = deque(), None, os.getpid()
