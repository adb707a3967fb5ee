"""One fake LLM endpoint and one running system (gateway + worker on every queue) for the language tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis, free_port
from tests.harness import Client, System
from tests.language.fake_llm import FakeLlm

# The real llama.cpp server of test_llm_real_server.py listens here (started by that module only).
LLAMA_PORT = free_port()
FAKE_KEY = "sk-fake-provider-secret-0123456789"
OPENAI_KEY = "sk-default-openai-secret-9876543210"


@pytest.fixture(scope="package")
def fake_llm() -> Iterator[FakeLlm]:
    server = FakeLlm()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def lang_system(
    redis_server: EmbeddedRedis, fake_llm: FakeLlm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """A gateway and a worker whose default LLM provider is the fake server; shared by the package's tests."""
    share = tmp_path_factory.mktemp("lang-share")
    env = {
        "TASKGATE_LLM__PROVIDER": "fake",
        "TASKGATE_LLM__PROVIDERS__FAKE__BASE_URL": fake_llm.url,
        "TASKGATE_LLM__PROVIDERS__FAKE__MODEL": "fake-model",
        "TASKGATE_LLM__PROVIDERS__FAKE__API_KEY_ENV": "FAKE_LLM_KEY",
        "FAKE_LLM_KEY": FAKE_KEY,
        # a provider nobody listens for, to see connection errors turn into stage retries
        "TASKGATE_LLM__PROVIDERS__DOWN__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "TASKGATE_LLM__PROVIDERS__LLAMA__BASE_URL": f"http://127.0.0.1:{LLAMA_PORT}/v1",
        "TASKGATE_LLM__PROVIDERS__LLAMA__MODEL": "smollm2",
        "OPENAI_BASE_URL": fake_llm.url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "TASKGATE_LLM__CONTEXT_TOKENS": "800",
        "TASKGATE_LLM__MAX_CHUNK_CUES": "40",
        "TASKGATE_LLM__CHUNK_OVERLAP_CUES": "2",
        "TASKGATE_LLM__MAX_CONCURRENCY": "3",
        "TASKGATE_LLM__MAX_ATTEMPTS": "3",
        "TASKGATE_LLM__RETRY_BACKOFF_S": "0.05",
        "TASKGATE_LLM__MAX_RETRY_WAIT_S": "5",
        "TASKGATE_LLM__REASK_ATTEMPTS": "1",
        "TASKGATE_MAX_RETRIES": "1",
        "TASKGATE_RETRY_MIN_BACKOFF_S": "0.1",
    }
    log_dir = tmp_path_factory.mktemp("lang-logs")
    system = System(redis_server.url, share, log_dir, env)
    try:
        system.start_worker(threads=4)
        system.start_gateway()
        yield system
    finally:
        system.stop()


@pytest.fixture
async def lang_client(lang_system: System, fake_llm: FakeLlm) -> AsyncIterator[Client]:
    """An HTTP client on the shared system; the fake LLM starts each test with no script and no history."""
    fake_llm.reset()
    async with aiohttp.ClientSession() as session:
        yield Client(session, lang_system.base_url)


@pytest.fixture
def share(lang_system: System) -> Path:
    return lang_system.share_dir
