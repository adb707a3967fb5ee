"""A worker process killed within a second of its start, before a sidecar heartbeat listed it, loses nothing.

With the shipped settings the sidecar beats every 10 s once a worker shows; a process killed between its
first fetch and the next beat was never listed, never marked gone, and its fetched messages stayed in its
ack set for good. Every worker now lists itself as it registers, before it fetches anything.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable

import msgspec
import redis

from config import keys
from tests.e2e.figures import report, settle
from tests.harness import Client, System, wait_until
from tests.monitor.helpers import session

TASKS = 12
# The shipped heartbeat timeout: the killed process's messages must be back within it.
HEARTBEAT_TIMEOUT_S = 60.0


def _acks_of(admin: redis.Redis, member: str) -> str | None:
    raw = admin.hget(keys.WORKER_CONSUMERS, member)
    if raw is None:
        return None
    broker_id = msgspec.json.decode(raw)["broker_id"]
    return keys.dramatiq_acks(broker_id, "system")


async def test_a_worker_killed_young_has_its_fetched_messages_put_back_within_the_heartbeat_timeout(
    make_system: Callable[..., System],
) -> None:
    system = make_system()  # the shipped settings: 10 s heartbeats, 60 s timeout, 5 s monitor passes
    system.start_gateway()
    admin = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])
    async with session() as http:
        client = Client(http, system.base_url)
        ids = [f"young-{i}" for i in range(TASKS)]
        for task_id in ids:
            await client.submit("system.sleep", {"seconds": 0.5}, task_id=task_id)
        system.start_worker(processes=2, threads=1)
        first = wait_until(lambda: len(system.worker_pids()) == 2 and system.worker_pids(), 60, 0.05, "two workers")
        wait_until(lambda: admin.zcard(keys.WORKERS) >= 2, 30, 0.05, "the workers listed")
        os.kill(first[0], signal.SIGKILL)  # its pool restarts it: the sidecar already beats every 10 s
        fresh = wait_until(lambda: [p for p in system.worker_pids() if p not in first], 60, 0.01, "a new worker")[0]
        born = time.monotonic()
        member = f"{socket.gethostname()}:{fresh}"

        def fetched() -> str | None:
            acks = _acks_of(admin, member)
            return acks if acks and admin.scard(acks) else None

        acks = wait_until(fetched, 30, 0.005, "the new worker's first fetch")
        os.kill(fresh, signal.SIGKILL)
        killed = time.monotonic()
        held = admin.scard(acks)
        wait_until(lambda: not admin.exists(acks), HEARTBEAT_TIMEOUT_S, 0.05, "the young worker's messages back")
        back_s = time.monotonic() - killed
        records, _ = await settle(client, ids, timeout_s=120)
    admin.close()
    report(
        "young_worker_sigkill",
        len(ids),
        records,
        time.monotonic() - killed,
        f"killed {killed - born:.2f} s after it showed; {held} fetched back in {back_s:.2f} s",
    )
    assert {r["status"] for r in records.values()} == {"SUCCESS"}
