"""One gateway without workers for a module (submitted tasks stay PENDING), and a client of it.

A module shapes it with ``GATEWAY_FILES`` (relative path -> bytes, written into its storage root before the
gateway starts: submits check that input files exist) and ``GATEWAY_ENV`` (more TASKGATE_* variables).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System


@pytest.fixture(scope="module")
def gateway_only(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[System]:
    """Start the module's gateway on the session's Redis, with its ``GATEWAY_FILES`` and ``GATEWAY_ENV``."""
    share = tmp_path_factory.mktemp("share")
    for name, data in getattr(request.module, "GATEWAY_FILES", {}).items():
        (share / name).parent.mkdir(parents=True, exist_ok=True)
        (share / name).write_bytes(data)
    system = System(
        redis_server.url, share, tmp_path_factory.mktemp("logs"), getattr(request.module, "GATEWAY_ENV", None)
    )
    system.start_gateway()
    yield system
    system.stop()


@pytest.fixture
async def gw(gateway_only: System, redis_url: str) -> AsyncIterator[Client]:
    """A client of the module's gateway, after the test's Redis was flushed (``redis_url``)."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, gateway_only.base_url)
