"""A gateway and workers for the voice queues shared by a test module (Piper and tiny.en load once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media_tasks.shared_system import shared_system

VOICE_QUEUES = ["tts", "ffmpeg", "faster_whisper"]


@pytest.fixture(scope="module")
def voice_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Run a gateway and one worker process on the tts, ffmpeg and faster_whisper queues."""
    with shared_system(redis_server.url, tmp_path_factory.mktemp("voice"), VOICE_QUEUES) as system:
        yield system


@pytest.fixture
async def voice_client(voice_system: System) -> AsyncIterator[Client]:
    """An HTTP client on the module's gateway."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, voice_system.base_url)
