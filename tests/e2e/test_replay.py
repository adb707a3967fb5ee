"""Replay by filter on the real system: 300 tasks failed by a broken file, the file fixed, one retry call.

The tasks check a subtitle file (``subtitles.check_file``, pure Python: the cheapest real task that reads an
input); the file is broken, so each fails with ``InputFileError``. Once the file is fixed, one
``POST /v1/tasks/retry`` sends all of them back and each ends SUCCESS with both runs in its history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness import Client, System, async_wait_until

TASKS = 300
BROKEN = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi.\n\nno timing here\nBad.\n"
FIXED = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHi.\n\n00:00:03.000 --> 00:00:04.500\nGood.\n"
LABEL = "label=rollout:r42"


@pytest.fixture
async def client(make_system: Callable[..., System]) -> AsyncIterator[Client]:
    system = make_system()
    system.start_worker(queues=["subtitles"], threads=4)
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        yield Client(session, system.base_url)


async def _count(client: Client, query: str) -> int:
    found, cursor = 0, None
    while True:
        status, page, _ = await client.request(
            "GET", f"/v1/tasks?{query}&limit=500" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200, page
        found += len(page["tasks"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def _all(client: Client, query: str, timeout_s: float) -> None:
    async def reached() -> bool:
        return await _count(client, query) == TASKS

    await async_wait_until(reached, timeout_s, 0.5, f"{TASKS} tasks matching {query}")


async def test_three_hundred_failed_tasks_succeed_after_the_fix_and_one_retry(client: Client, share_dir: Path) -> None:
    (share_dir / "episode.vtt").write_text(BROKEN)
    limit = asyncio.Semaphore(16)

    async def submit(n: int) -> None:
        async with limit:
            await client.submit(
                "subtitles.check_file", {"subtitle_path": "episode.vtt"}, f"qc-{n}", labels={"rollout": "r42"}
            )

    await asyncio.gather(*(submit(n) for n in range(TASKS)))
    await _all(client, f"{LABEL}&status=FAILED&error_type=InputFileError", 240)

    status, dry, _ = await client.request(
        "POST", "/v1/tasks/retry", json={"labels": {"rollout": "r42"}, "dry_run": True}
    )
    assert status == 200, dry
    assert (dry["count"], dry["matched"], len(dry["sample"])) == (TASKS, TASKS, 20)
    assert await _count(client, f"{LABEL}&status=FAILED") == TASKS  # a dry run changes nothing

    (share_dir / "episode.vtt").write_text(FIXED)
    body: dict[str, Any] = {"labels": {"rollout": "r42"}, "status": "FAILED", "error_type": "InputFileError"}
    status, done, _ = await client.request("POST", "/v1/tasks/retry", json=body)
    assert status == 200, done
    assert (done["count"], done["skipped"]) == (TASKS, 0)
    await _all(client, f"{LABEL}&status=SUCCESS", 240)

    for n in range(TASKS):
        stage = (await client.task(f"qc-{n}"))["stages"]["subtitles.check_file"]
        assert stage["attempts"] == 2, stage
        first, second = stage["history"]
        assert (first["attempt"], first["status"], first["error"]["type"]) == (1, "FAILED", "InputFileError")
        assert "line 6" in first["error"]["message"]
        assert (second["attempt"], second["status"], second["error"]) == (2, "SUCCESS", None)
        assert stage["output"]["cue_count"] == 2
