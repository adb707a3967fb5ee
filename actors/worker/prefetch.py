"""Stage records read with the fetch of their messages, one round trip per fetched batch.

A worker thread starting a stage reads its workflow, then moves the stage to RUNNING with a compare-and-set
on the stage's revision: two round trips on the thread's path, under load most of a small task's time. The
consumer thread fetches messages in batches; right after a fetch it reads every fetched stage's workflow
(and the live-settings version) in one pipeline and keeps the replies here, keyed by message id. The start
then uses that snapshot for a single compare-and-set attempt: the revision matching proves the record is the
one read, so the start is exactly what a fresh read would have given. Any lost race, and every case off the
plain path (a stage not PENDING, a re-sent message, input that refers to other stages), reads afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import msgspec
import redis
import structlog

from config import keys
from redis_io import Channel
from redis_io.replies import as_mapping

log = structlog.get_logger(__name__)
_decoder = msgspec.json.Decoder()
# Snapshots of messages that never reached a start (requeued at shutdown, skipped) are dropped oldest first.
KEPT = 1024


class Snapshot(msgspec.Struct, frozen=True):
    """A workflow's hash as read right after its message was fetched, and the live-settings version then."""

    workflow: dict[Any, Any]
    config_version: bytes | None


class Snapshots:
    """Snapshots by message id, filled by consumer threads and taken (once) by worker threads."""

    def __init__(self, stages: frozenset[str], kept: int = KEPT) -> None:
        self.stages = stages  # the actors whose messages start stages (the webhook actor's do not)
        self.kept = kept
        self._items: OrderedDict[str, Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, channel: Channel, fetched: list[bytes]) -> int:
        """Read the workflows of the stage messages in ``fetched`` in one round trip; return how many.

        A Redis error leaves the batch without snapshots (their starts read as before); it is not raised.
        """
        stages = [found for data in fetched if data is not None and (found := self._stage_of(data)) is not None]
        if not stages:
            return 0
        commands = [("HGETALL", keys.workflow_state(wid)) for _, wid in stages]
        try:
            *workflows, version = channel.execute_many(*commands, ("GET", keys.CONFIG_VERSION))
        except redis.RedisError as exc:
            log.debug("prefetch_failed", error=str(exc))
            return 0
        if isinstance(version, redis.ResponseError):
            return 0
        with self._lock:
            for (message_id, _), raw in zip(stages, workflows, strict=True):
                if isinstance(raw, redis.ResponseError):
                    continue
                self._items[message_id] = Snapshot(as_mapping(raw), version)
            while len(self._items) > self.kept:
                self._items.popitem(last=False)
        return len(stages)

    def _stage_of(self, data: bytes) -> tuple[str, str] | None:
        """Return (message id, workflow id) of a fetched stage message; None for any other message."""
        try:
            fields = _decoder.decode(data)
            if fields["actor_name"] not in self.stages:
                return None
            return str(fields["message_id"]), str(fields["args"][0]["workflow_id"])
        except (msgspec.DecodeError, KeyError, IndexError, TypeError):
            return None

    def take(self, message_id: str) -> Snapshot | None:
        """Return and forget the snapshot read with ``message_id``'s fetch, if any."""
        with self._lock:
            return self._items.pop(message_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
