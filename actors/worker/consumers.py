"""Tell the monitor which Dramatiq consumer a worker process is, so it can put back what a dead one fetched.

Dramatiq's Redis broker keeps, per worker process and queue, the set of message ids fetched and not yet
acked (``dramatiq:__acks__.{broker_id}.{queue}``); it re-queues a dead process's set only on a random
maintenance pass after its heartbeat went stale. Each worker process records its broker id and queues
under ``host:pid``, the name its host's sidecar heartbeats it by; when the monitor finds that process
gone, it puts the set back at once (``monitor.ack_recovery``).
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
from redis_io import Channel, LuaScript
from redis_io.errors import RedisUnavailable
from redis_io.retry import ride_out
from state.tracking import ConsumerInfo

log = structlog.get_logger(__name__)
_REGISTER = LuaScript.load("actors.worker", "register_consumer")

# A worker that cannot record itself within this long still runs; the monitor then cannot speed up its
# recovery, and Dramatiq's maintenance pass remains.
REGISTER_WITHIN_S = 60.0


def worker_member(pid: int | None = None) -> str:
    """Return the name a worker process is heartbeated by: ``host:pid``."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


class ConsumerRegistry(Middleware):  # type: ignore[misc]
    """Register this process (broker id, queues, last seen) before its consumers fetch anything.

    ``listed``: a sidecar heartbeats this process (``taskgate worker``), so it is listed among the worker
    processes, last seen now, in the same step; a bare Dramatiq pool, which nobody heartbeats, only records
    its consumer (listing it would make the monitor take it for silent, and dead, after the timeout).
    """

    def __init__(self, *, listed: bool = True) -> None:
        self.listed = listed

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        """Write ``host:pid -> {broker_id, queues}`` and list ``host:pid`` alive now (retried while unreachable)."""
        wanted = worker.consumer_whitelist
        queues = [q for q in broker.get_declared_queues() if not wanted or q in wanted]
        queues += [dq_name(q) for q in queues]
        info = ConsumerInfo(broker_id=broker.broker_id, queues=sorted(queues))
        member, payload = worker_member(), msgspec.json.encode(info)
        channel = Channel(broker.client)
        script_keys = [keys.WORKER_CONSUMERS, keys.WORKERS, keys.EVENTS]
        args: list[str | int | bytes] = [member, payload, keys.EVENTS_KEPT, 1 if self.listed else 0]
        try:
            ride_out(
                lambda: _REGISTER(channel, script_keys, args),
                what="register_consumer",
                limit_s=REGISTER_WITHIN_S,
            )
        except RedisUnavailable as exc:
            log.warning("consumer_not_registered", error=str(exc))
            return
        finally:
            channel.close()
        log.info("consumer_registered", worker=member, broker_id=info.broker_id, queues=len(info.queues))
