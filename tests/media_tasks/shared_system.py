"""One running gateway and worker shared by a test module (OCR models load once, tests stay fast)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.harness import System


@contextmanager
def shared_system(redis_url: str, root: Path, queues: list[str], env: dict[str, str] | None = None) -> Iterator[System]:
    """Start a gateway and one worker process (two threads) on ``queues``; tests use distinct task ids."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    share, logs = root / "share", root / "logs"
    share.mkdir()
    logs.mkdir()
    system = System(redis_url, share, logs, env)
    try:
        system.start_worker(queues=queues, processes=1, threads=2)
        system.start_gateway()
        yield system
    finally:
        system.stop()
