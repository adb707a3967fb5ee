"""Fixtures that run the real system: a gateway and a worker pool on the session's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System


@pytest.fixture
def make_system(redis_url: str, share_dir: Path, tmp_path: Path) -> Iterator[Callable[..., System]]:
    """Return a factory of systems (with extra TASKGATE_* settings); all are stopped afterwards."""
    made: list[System] = []

    def make(env: dict[str, str] | None = None, url: str | None = None) -> System:
        log_dir = tmp_path / f"logs{len(made)}"
        log_dir.mkdir()
        system = System(url or redis_url, share_dir, log_dir, env)
        made.append(system)
        return system

    yield make
    for system in made:
        system.stop(graceful=False)  # a test that checks a graceful stop calls stop() itself


@pytest.fixture
def system(make_system: Callable[..., System]) -> System:
    """A running gateway and one worker pool serving every queue."""
    sys_ = make_system()
    sys_.start_worker()
    sys_.start_gateway()
    return sys_


@pytest.fixture
async def client(system: System) -> AsyncIterator[Client]:
    """An HTTP client on the running system's gateway."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, system.base_url)


__all__ = ["EmbeddedRedis", "client", "make_system", "system"]
