"""Fixtures of the delivery tests: a webhook receiver and system settings with fast retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.delivery.receiver import SECRET, Receiver

FAST_WEBHOOKS = {
    "TASKGATE_WEBHOOKS__SECRET": SECRET,
    "TASKGATE_WEBHOOKS__RETRY_DELAYS_S": "[0.2, 0.2, 0.2]",
    "TASKGATE_WEBHOOKS__JITTER": "0",
    "TASKGATE_WEBHOOKS__DISPATCH_INTERVAL_S": "0.05",
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running webhook receiver and file server on loopback."""
    rec = Receiver()
    await rec.start()
    yield rec
    await rec.stop()


async def webhooks_idle(redis: Any) -> bool:
    """Return whether no webhook is waiting anywhere: outbox, queue or delay queue."""
    from config import keys

    counts = [
        await redis.zcard(keys.WEBHOOK_OUTBOX),
        await redis.hlen("dramatiq:webhooks.msgs"),
        await redis.hlen("dramatiq:webhooks.DQ.msgs"),
    ]
    return not any(counts)
