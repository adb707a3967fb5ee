"""A gateway and one worker on the paddleocr and inpainting queues shared by the module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media_tasks.shared_system import shared_system


@pytest.fixture(scope="module")
def inpaint_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Run a gateway and one worker process on the paddleocr and inpainting queues for the whole module."""
    with shared_system(redis_server.url, tmp_path_factory.mktemp("inpaint"), ["paddleocr", "inpainting"]) as system:
        yield system


@pytest.fixture
async def inpaint_client(inpaint_system: System) -> AsyncIterator[Client]:
    """An HTTP client on the module's gateway."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, inpaint_system.base_url)
