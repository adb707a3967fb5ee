"""Dead worker processes: put back the messages they had fetched but not finished, at once.

A Dramatiq worker prefetches messages (twice its threads per queue) into its ack set before it runs
them. When its process dies, Dramatiq itself re-queues that set only after the broker heartbeat went
stale and a random maintenance pass comes by (minutes). Each worker process records its broker id and
queues (``actors.worker.consumers``); when its host's sidecar sees it gone (or the host goes silent for
the heartbeat timeout), the monitor puts its ack sets back in one script. The dead runs of that process
are recovered first in the same pass, so the messages of their stages come back superseded and are skipped.
"""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis
import structlog

from config import keys
from monitor.journal import event_for, record_event
from redis_io import AsyncChannel, LuaScript
from state.tracking import ConsumerInfo

log = structlog.get_logger(__name__)
_REQUEUE_ACKS = LuaScript.load("monitor", "requeue_acks")
_WORKERS_DOWN = LuaScript.load("monitor", "workers_down")
_decoder = msgspec.json.Decoder(ConsumerInfo)


class AckRecovery:
    """Put back dead worker processes' unacked messages."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._channel = AsyncChannel(client)

    async def recover(self, members: list[str], cutoff_ms: int) -> int:
        """Recover the worker processes ``members`` ("host:pid"); return how many messages went back.

        ``members`` were read as last seen at or before ``cutoff_ms``. Each is forgotten in the step that puts
        its messages back; one that never recorded its consumers has nothing known to put back and is
        forgotten alone. Only these: a worker that went silent after the read is recovered by the next pass.
        """
        if not members:
            return 0
        raws = await self.client.hmget(keys.WORKER_CONSUMERS, members)
        total = 0
        for member, raw in zip(members, raws, strict=True):
            if raw is not None:
                total += await self._put_back(member, _decoder.decode(raw))
        if unknown := [member for member, raw in zip(members, raws, strict=True) if raw is None]:
            await _WORKERS_DOWN.run(self._channel, [keys.WORKERS, keys.EVENTS], [cutoff_ms, keys.EVENTS_KEPT, *unknown])
        return total

    async def _put_back(self, member: str, info: ConsumerInfo) -> int:
        script_keys = [keys.WORKER_CONSUMERS, keys.WORKERS, keys.DRAMATIQ_HEARTBEATS, keys.EVENTS]
        for queue in info.queues:
            script_keys += [
                keys.dramatiq_acks(info.broker_id, queue),
                keys.dramatiq_queue(queue),
                keys.dramatiq_messages(queue),
                keys.broker_wake(queue),
            ]
        args: list[str | int] = [member, info.broker_id, keys.BROKER_WAKE_KEPT, keys.EVENTS_KEPT]
        count = int(await _REQUEUE_ACKS.run(self._channel, script_keys, args))
        host, _, pid = member.rpartition(":")
        if count:
            detail = f"worker process gone: {count} fetched message(s) put back"
            event = event_for("worker", None, detail, host=host, pid=int(pid), action="requeued")
            await record_event(self.client, event)
        else:
            log.info("monitor_worker_gone", host=host, pid=pid, requeued=0)
        return count
