"""A Redis broker whose idle consumers wake the moment a message is enqueued."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.common import compute_backoff, current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from actors.messages import decode_message, encode_message
from actors.worker.dramatiq_internals import RedisBroker, RedisConsumer, dispatch_args, dispatch_source
from config import keys
from config.queueing import PRIORITIES
from redis_io import Channel, LuaScript
from state.create_call import STAGE_OPTION

# encode_message stays importable from here for the worker's lifecycle; the codec lives in actors.messages
__all__ = ["Delivery", "WakingRedisBroker", "encode_message"]

log = structlog.get_logger(__name__)
_FETCH = LuaScript.load("actors.worker", "fetch")
# One fetch in this many also runs Dramatiq's maintenance (dead consumers' ack sets put back) with the odds
# Dramatiq gives every dispatch; the monitor's dead-worker recovery (monitor.ack_recovery) comes first anyway.
_MAINTENANCE_EVERY = 16
# A consumer's Dramatiq heartbeat is written by at most one fetch in this many ms (Dramatiq's maintenance counts
# a consumer dead after ``heartbeat_timeout``, a minute by default); the other fetches skip the write.
_HEARTBEAT_EVERY_MS = 1000
# The longest a consumer holding all it may hold waits for an ack to free room before it looks again.
_BUSY_WAIT_S = 0.5


@dataclass(frozen=True)
class Delivery:
    """What acking a fetched message takes (Dramatiq's ack): its id, the consumer's ack set, the queue's messages."""

    redis_message_id: str
    acks_key: str
    messages_key: str


class _WakingConsumer(RedisConsumer):  # type: ignore[misc]
    """Fetch like Dramatiq's consumer, but wait on a wake-up list instead of sleeping."""

    emptied = False  # the last fetch took fewer than it asked for: the next one waits for a wake-up first

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.room = threading.Event()  # set by each ack and nack: a busy consumer may take again

    def __next__(self) -> MessageProxy | None:
        try:
            while True:
                try:
                    data = self.message_cache.pop(0)
                    if data is None:
                        continue
                    self.misses = 0
                    message = decode_message(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                except IndexError:
                    messages = []
                    wanted = self.prefetch - self.outstanding_message_count
                    if wanted > 0 and not self.emptied:
                        self.message_cache = messages = self.broker.do_fetch(self.queue_name, wanted)
                        # Fewer than asked: the queue is empty now, so the next message into it brings a
                        # wake-up token (create_stage.lua, fetch.lua): wait for it rather than fetch again.
                        self.emptied = len(messages) < wanted and not self.queue_name.endswith(".DQ")
                    if not messages and wanted <= 0:
                        # Busy: every message this consumer may hold is out. Wait for a worker thread's ack or
                        # nack to free room (a wake-up token is for an idle consumer: not taken here).
                        self.room.clear()
                        if self.outstanding_message_count >= self.prefetch:
                            self.room.wait(_BUSY_WAIT_S)
                        return None
                    if not messages:
                        # Idle: block on the wake-up list (a release of backoff polling), bounded by
                        # the usual backoff so maintenance and shutdown still run.
                        self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                        self.emptied = False
                        self.broker.channel.execute(
                            "BLPOP", keys.broker_wake(self.queue_name), max(backoff_ms, 10) / 1000
                        )
                        return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def ack(self, message: MessageProxy) -> None:
        """Ack as Dramatiq does, unless the stage's ending already did it in its script."""
        if self.broker.take_acked(message.options["redis_message_id"]):
            self.queued_message_ids.discard(message.message_id)
        else:
            super().ack(message)  # type: ignore[no-untyped-call]
        self.room.set()

    def nack(self, message: MessageProxy) -> None:
        """Nack as Dramatiq does, unless the stage's ending already acked the message (its stage has ended)."""
        if self.broker.take_acked(message.options["redis_message_id"]):
            self.queued_message_ids.discard(message.message_id)
        else:
            super().nack(message)  # type: ignore[no-untyped-call]
        self.room.set()


class WakingRedisBroker(RedisBroker):  # type: ignore[misc]
    """``RedisBroker`` plus a wake-up token per enqueue, so latency is not the idle poll interval.

    Its dispatch script (fetch, ack, nack, enqueue, maintenance) goes over a ``Channel``: the ack of every
    message otherwise pays redis-py's per-command wrapping, as much CPU as the rest of Dramatiq's
    handling of a message.
    """

    _channel: Channel | None = None
    _dispatch_script: LuaScript | None = None
    # the live-settings version read with the last fetch that took messages (a start adopts it)
    config_version: bytes | None = None
    # how long a task record lives after its last change (``state_ttl_s``); the worker app sets it
    record_ttl_ms: int = 7 * 24 * 3600 * 1000
    # priorities (``queueing``; the worker app sets these): how long a message waits to count one band
    # higher; whether consumers hold only what their threads run (else Dramatiq's prefetch, FIFO)
    aging_ms: int = 60_000
    lanes: bool = False
    # queues whose every task takes a GPU lease: their consumers hold one message (the others wait in Redis)
    gpu_queues: frozenset[str] = frozenset()
    # the host the fetch script checks against the drained hosts
    host: str = socket.gethostname()
    _fetches = 0
    _beat_at_ms = 0  # the clock of the last fetch that wrote this broker's heartbeat

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        # messages whose stage ending acked them in its own script (``acked_by_ending``): their consumer skips
        # Dramatiq's ack round trip
        self._acked: set[str] = set()
        self._acked_lock = threading.Lock()

    @property
    def channel(self) -> Channel:
        """Return the broker's ``Channel`` (created on first use; it opens its own connections after a fork)."""
        if self._channel is None:
            self._channel = Channel(self.client)
        return self._channel

    def _dispatch(self, command: str) -> Callable[..., Any]:
        """Return a caller of Dramatiq's dispatch script for ``command``, with the arguments Dramatiq sends."""
        if self._dispatch_script is None:
            self._dispatch_script = LuaScript(dispatch_source(self))
        script, channel, namespace = self._dispatch_script, self.channel, [self.namespace]

        def do_dispatch(queue_name: str, *args: Any) -> Any:
            return script(channel, namespace, dispatch_args(self, command, queue_name, *args))

        return do_dispatch

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue a message; for a stage's message, also note it as the stage's latest (for the monitor).

        A message sent again (a retry) drops the stage record its submit carried: the stage has moved on.
        """
        if STAGE_OPTION in message.options:
            message = message.copy(options={k: v for k, v in message.options.items() if k != STAGE_OPTION})
        sent: Message[Any] = super().enqueue(message, delay=delay)
        context = sent.args[0] if sent.args else None
        if isinstance(context, dict) and "workflow_id" in context and "task_name" in context:
            record = keys.workflow_state(context["workflow_id"])
            note = f"{sent.queue_name}\n{sent.options['redis_message_id']}"
            try:  # the TTL set again: a record that had expired meanwhile is not left behind without one
                self.channel.execute_many(
                    ("HSET", record, keys.stage_message_field(context["task_name"]), note),
                    ("PEXPIRE", record, self.record_ttl_ms),
                )
            except (redis.RedisError, OSError) as exc:  # the monitor then sends one more: a duplicate at worst
                log.warning("stage_message_not_noted", error=str(exc))
        return sent

    def do_enqueue(self, queue_name: str, *args: Any) -> Any:
        """Enqueue through Dramatiq's script, then wake one idle consumer of that queue.

        A failed wake-up is only logged: the message is queued, and idle consumers poll within a second.
        """
        result = self._dispatch("enqueue")(queue_name, *args)  # type: ignore[no-untyped-call]
        wake = keys.broker_wake(queue_name)
        try:
            self.channel.execute_many(("LPUSH", wake, 1), ("LTRIM", wake, 0, keys.BROKER_WAKE_KEPT - 1))
        except (redis.RedisError, OSError) as exc:
            log.info("broker_wake_failed", queue=queue_name, error=str(exc))
        return result

    def do_fetch(self, queue_name: str, count: int, now_ms: int | None = None) -> list[bytes | None]:
        """Take up to ``count`` messages through ``fetch.lua``: paused and drained take nothing, then priorities.

        ``now_ms``: the clock aging reads (this host's, as Dramatiq's dispatch takes it). A delay queue's fetch
        is Dramatiq's (a delayed message only moves on to its queue when due).
        """
        if queue_name.endswith(".DQ"):
            return self._dispatch("fetch")(queue_name, count)  # type: ignore[no-any-return]
        self._fetches += 1
        if self._fetches % _MAINTENANCE_EVERY == 0 and self._should_do_maintenance("fetch"):
            self._maintain(queue_name)
        script_keys = [
            keys.dramatiq_queue(queue_name),
            keys.dramatiq_messages(queue_name),
            keys.dramatiq_acks(self.broker_id, queue_name),
            keys.DRAMATIQ_HEARTBEATS,
            keys.PAUSED_QUEUES,
            keys.DRAINED_HOSTS,
            keys.CLIENT_WEIGHTS,
        ]
        for priority in PRIORITIES:
            script_keys += keys.lane_keys(queue_name, priority)
        script_keys += [keys.lanes_queued(queue_name), keys.broker_wake(queue_name), keys.CONFIG_VERSION]
        now = current_millis() if now_ms is None else now_ms
        beat = not 0 <= now - self._beat_at_ms < _HEARTBEAT_EVERY_MS
        if beat:
            self._beat_at_ms = now
        args: list[str | int | bytes] = [queue_name, self.broker_id, now, count, self.host]
        args += [self.aging_ms, *(keys.lane_prefix(queue_name, p) for p in PRIORITIES), 1 if beat else 0]
        args.append(keys.BROKER_WAKE_KEPT)
        taken = list(_FETCH(self.channel, script_keys, args))
        if taken:
            self.config_version = taken.pop()  # the script reads it after the messages it took
        return taken

    def _maintain(self, queue_name: str) -> None:
        """Run Dramatiq's maintenance for ``queue_name`` (its dispatch script, fetching nothing)."""
        if self._dispatch_script is None:
            self._dispatch_script = LuaScript(dispatch_source(self))
        args = dispatch_args(self, "fetch", queue_name, 0)
        args[6] = 1  # do_maintenance: this call is the one drawn
        self._dispatch_script(self.channel, [self.namespace], args)

    def delivery(self, message: MessageProxy) -> Delivery:
        """Return what acking ``message`` takes, for a stage ending that acks it in its own script."""
        return Delivery(
            redis_message_id=message.options["redis_message_id"],
            acks_key=keys.dramatiq_acks(self.broker_id, message.queue_name),
            messages_key=keys.dramatiq_messages(message.queue_name),
        )

    def acked_by_ending(self, message: MessageProxy) -> None:
        """Note that the stage ending acked ``message``: its consumer then only forgets it (no second round trip)."""
        with self._acked_lock:
            self._acked.add(message.options["redis_message_id"])

    def take_acked(self, redis_message_id: str) -> bool:
        """Return whether the ending acked this message already (and forget the note)."""
        with self._acked_lock:
            if redis_message_id in self._acked:
                self._acked.discard(redis_message_id)
                return True
            return False

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> _WakingConsumer:
        """Return a consumer that waits on the queue's wake-up list when idle.

        With priorities on, a queue's consumer holds no more messages than its threads run, and a GPU queue's
        (every task of it takes a lease) one: a message waits in Redis, where a higher priority can still go
        ahead of it.

        A delay queue's consumer first puts back what this process had fetched from it: after a connection
        error Dramatiq restarts the consumer with an empty in-memory delay queue, and the messages it held
        (retries, re-sent starts) would otherwise wait in this process's ack set until the process dies.

        Raises:
            ConnectionClosed: Redis could not be reached (Dramatiq restarts the consumer).
        """
        if queue_name.endswith(".DQ"):
            try:
                held = self.channel.execute("SMEMBERS", keys.dramatiq_acks(self.broker_id, queue_name))
                if held:
                    self.do_requeue(queue_name, *held)
            except (redis.RedisError, OSError) as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        if self.lanes and not queue_name.endswith(".DQ"):  # Dramatiq asks for twice its threads
            prefetch = 1 if queue_name in self.gpu_queues else max(1, prefetch // 2)
        return _WakingConsumer(self, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
