"""A gateway and a worker on the ffmpeg and paddleocr queues shared by the module; fixture videos."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media_tasks.shared_system import shared_system

# Subtitle lines at known times (multiples of the 0.1 s frame step); gaps between some, none between others.
LINES = [
    (0.5, 2.0, "Hello from the first line"),
    (2.5, 4.0, "A second line of text"),
    (4.0, 5.6, "Third and final words"),
]


@pytest.fixture(scope="module")
def ocr_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Run a gateway and one worker process on the ffmpeg and paddleocr queues for the whole module."""
    with shared_system(redis_server.url, tmp_path_factory.mktemp("ocr"), ["ffmpeg", "paddleocr"]) as system:
        yield system


@pytest.fixture
async def ocr_client(ocr_system: System) -> AsyncIterator[Client]:
    """An HTTP client on the module's gateway."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, ocr_system.base_url)
