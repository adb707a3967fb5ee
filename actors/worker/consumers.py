"""Tell the monitor which Dramatiq consumer a worker process is, so it can put back what a dead one fetched.

Dramatiq's Redis broker keeps, per worker process and queue, the set of message ids fetched and not yet
acked (``dramatiq:__acks__.{broker_id}.{queue}``); it re-queues a dead process's set only on a random
maintenance pass after its heartbeat went stale. Each worker process records its broker id and queues
under ``host:pid``, the name its host's sidecar heartbeats it by; when the monitor finds that process
gone, it puts the set back at once (``monitor.workers``).
"""

from __future__ import annotations

import os
import socket
from typing import Any

import msgspec
import structlog
from dramatiq.common import dq_name
from dramatiq.middleware import Middleware

from config import keys
from redis_io.errors import RedisUnavailable
from redis_io.retry import ride_out
from state.tracking import ConsumerInfo

log = structlog.get_logger(__name__)

# A worker that cannot record itself within this long still runs; the monitor then cannot speed up its
# recovery, and Dramatiq's maintenance pass remains.
REGISTER_WITHIN_S = 60.0


def worker_member(pid: int | None = None) -> str:
    """Return the name a worker process is heartbeated by: ``host:pid``."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


class ConsumerRegistry(Middleware):  # type: ignore[misc]
    """Record this process's broker id and the queues it will consume, before its consumers fetch anything."""

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        """Write ``host:pid -> {broker_id, queues}`` (retried while Redis is unreachable)."""
        wanted = worker.consumer_whitelist
        queues = [q for q in broker.get_declared_queues() if not wanted or q in wanted]
        queues += [dq_name(q) for q in queues]
        info = ConsumerInfo(broker_id=broker.broker_id, queues=sorted(queues))
        member, payload = worker_member(), msgspec.json.encode(info)
        try:
            ride_out(
                lambda: broker.client.hset(keys.WORKER_CONSUMERS, member, payload),
                what="register_consumer",
                limit_s=REGISTER_WITHIN_S,
            )
        except RedisUnavailable as exc:
            log.warning("consumer_not_registered", error=str(exc))
            return
        log.info("consumer_registered", worker=member, broker_id=info.broker_id, queues=len(info.queues))
