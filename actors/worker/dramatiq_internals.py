"""The Dramatiq internals taskgate relies on, in one place (``dramatiq>=2,<3``).

``tests/unit/test_internals_contract.py`` checks each of them against the installed Dramatiq, so an upgrade
that moves one fails there, loudly, rather than as a stuck queue:

- ``dramatiq.brokers.redis._RedisConsumer``: the consumer class ``WakingRedisBroker.consume`` extends
  (its ``message_cache``, ``misses``, ``prefetch``, ``outstanding_message_count``, ``queued_message_ids``).
- ``RedisBroker.scripts["dispatch"]`` and the arguments of that script (``broker_id``,
  ``heartbeat_timeout``, ``dead_message_ttl``, ``_should_do_maintenance``, ``_max_unpack_size``): the
  broker sends it over a lean ``Channel``. Its fetch is taskgate's (``actors/worker/lua/fetch.lua``, the same
  ack set and heartbeat); Dramatiq's maintenance still runs through the dispatch script, its flag (ARGV[7],
  ``dispatch_args(...)[6]``) set by ``WakingRedisBroker._maintain``.
- The queue layout that ``state/lua/create_stage.lua`` writes when it queues a stage's message, as the
  dispatch script's ``enqueue`` does: the list ``{namespace}:{queue}`` of message ids and the hash
  ``{namespace}:{queue}.msgs`` of id -> encoded message (``config.keys.dramatiq_queue`` and
  ``dramatiq_messages``), and the per-worker ack sets ``{namespace}:__acks__.{worker_id}.{queue}``.
"""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.redis import _RedisConsumer as RedisConsumer
from dramatiq.common import current_millis

from redis_io import text

__all__ = ["RedisBroker", "RedisConsumer", "dispatch_args", "dispatch_source"]


def dispatch_source(broker: RedisBroker) -> str:
    """Return the Lua source of the broker's dispatch script."""
    return text(broker.scripts["dispatch"].script)


def dispatch_args(broker: RedisBroker, command: str, queue_name: str, *args: Any) -> list[Any]:
    """Return the ARGV the dispatch script takes for ``command`` on ``queue_name``, as ``RedisBroker`` builds it."""
    return [
        command,
        current_millis(),
        queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        broker._should_do_maintenance(command),
        broker._max_unpack_size(),  # type: ignore[no-untyped-call]
        *args,
    ]
