"""A gateway and an ffmpeg worker shared by the module, and a client per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media_tasks.shared_system import shared_system


@pytest.fixture(scope="module")
def media_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Run a gateway and a worker on the ffmpeg queue for the whole module."""
    with shared_system(redis_server.url, tmp_path_factory.mktemp("media"), ["ffmpeg"]) as system:
        yield system


@pytest.fixture
async def media_client(media_system: System) -> AsyncIterator[Client]:
    """An HTTP client on the module's gateway."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, media_system.base_url)
