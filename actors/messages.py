"""Dramatiq messages without a broker: encode and decode them, build a stage's, and send one.

The gateway and the monitor only send messages (a stage's, re-queued; a webhook delivery); the worker's
``WakingRedisBroker`` consumes them. ``MessageSender`` queues a message exactly as that broker's ``enqueue``
does (Dramatiq's queue layout: the id on the list ``{namespace}:{queue}``, the encoded message in the hash
``{namespace}:{queue}.msgs``; a stage's message noted in its record; a wake-up token for idle consumers), in one
round trip over the process's asyncio client, so neither builds the worker's broker nor declares its actors.
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import msgspec
import redis.asyncio as aioredis
from dramatiq.encoder import JSONEncoder
from dramatiq.errors import DecodeError
from dramatiq.message import Message

from config import keys
from state import QueuedMessage

_json_decoder = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


def encode_message(message: Message[Any]) -> bytes:
    """Encode a message as ``Message.encode`` does, with msgspec at a sixth of the cost.

    The same compact JSON, byte for byte, except that text outside ASCII is written as UTF-8 rather than
    as escape sequences; any JSON decoder, Dramatiq's included, reads both the same.
    """
    if type(dramatiq.get_encoder()) is not JSONEncoder:
        return message.encode()
    return _json_encoder.encode(message.asdict())


def decode_message(data: bytes) -> Message[Any]:
    """Decode a queued message as ``Message.decode`` does, with msgspec when Dramatiq's JSON encoder is in use.

    Raises:
        DecodeError: the data is not a message.
    """
    if type(dramatiq.get_encoder()) is not JSONEncoder:
        return Message.decode(data)
    try:
        fields = _json_decoder.decode(data)
        fields["args"] = tuple(fields["args"])
        return Message(**fields)
    except Exception as exc:
        raise DecodeError("Failed to decode message.", data, exc) from exc  # type: ignore[no-untyped-call]


def stage_message(queue: str, task_name: str, workflow_id: str, actor: str | None = None) -> QueuedMessage:
    """Return the Dramatiq message that runs stage ``task_name`` of ``workflow_id``, encoded for the submit script.

    The message id is chosen here, as ``RedisBroker.enqueue`` would, because the submit script queues the
    message itself (``state/lua/create_stage.lua``) in the same atomic step that creates the stage.
    """
    # one id for both: a replay notes it in the stage record, and the worker compares the message's message_id
    message_id = str(uuid.uuid4())
    message: Message[Any] = Message(
        queue_name=queue,
        actor_name=actor or task_name,
        args=({"workflow_id": workflow_id, "task_name": task_name},),
        kwargs={},
        options={"redis_message_id": message_id},
        message_id=message_id,
    )
    return QueuedMessage(queue=queue, message_id=message.options["redis_message_id"], payload=encode_message(message))


def requeued_stage_message(queue: str, actor: str, workflow_id: str, task_name: str, message_id: str) -> Message[Any]:
    """Return a new message for a stage sent again (``message_id`` is the one its record now expects)."""
    return Message(
        queue_name=queue,
        actor_name=actor,
        args=({"workflow_id": workflow_id, "task_name": task_name},),
        kwargs={},
        options={},
        message_id=message_id,
    )


class MessageSender:
    """Queue Dramatiq messages as the worker's broker does, over an asyncio Redis client.

    ``record_ttl_ms``: how long a task record lives after its last change (``state_ttl_s``); noting a stage's
    message sets it again, so a record that expired meanwhile is not left behind without one.
    """

    def __init__(self, client: aioredis.Redis, record_ttl_ms: int) -> None:
        self.client = client
        self.record_ttl_ms = record_ttl_ms

    async def send(self, message: Message[Any]) -> Message[Any]:
        """Queue ``message`` under a new Redis message id (as ``RedisBroker.enqueue``); return what was queued.

        A stage's message (its first argument names ``workflow_id`` and ``task_name``) is also noted as the
        stage's latest, which the monitor's pending sweep reads. Everything goes in one MULTI/EXEC.

        Raises:
            redis.RedisError, OSError: Redis could not be reached; nothing was queued.
        """
        redis_message_id = str(uuid.uuid4())
        sent = message.copy(options={**message.options, "redis_message_id": redis_message_id})
        queue = sent.queue_name
        wake = keys.broker_wake(queue)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(keys.dramatiq_messages(queue), redis_message_id, encode_message(sent))
            pipe.rpush(keys.dramatiq_queue(queue), redis_message_id)
            context = sent.args[0] if sent.args else None
            if isinstance(context, dict) and "workflow_id" in context and "task_name" in context:
                record = keys.workflow_state(context["workflow_id"])
                pipe.hset(record, keys.stage_message_field(context["task_name"]), f"{queue}\n{redis_message_id}")
                pipe.pexpire(record, self.record_ttl_ms)
            pipe.lpush(wake, 1)
            pipe.ltrim(wake, 0, keys.BROKER_WAKE_KEPT - 1)
            await pipe.execute()
        return sent
