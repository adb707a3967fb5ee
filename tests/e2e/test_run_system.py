"""``taskgate run`` as a user runs it: data survive a crash and a restart, stops leave nothing behind, one run
per data directory, webhooks signed by default."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from standardwebhooks import Webhook

from taskgate.embedded_redis import free_port
from tests.e2e.launch import Launch, freeze
from tests.harness import ROOT, Client, all_gone, async_wait_until, wait_until


async def _taskgate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m taskgate ARGS`` to its end (off the event loop)."""
    command = [sys.executable, "-m", "taskgate", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def _dramatiq(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if any(word in " ".join(p.cmdline()) for word in ("dramatiq", "taskgate.pool"))]


def _events(output: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


async def test_a_crash_keeps_records_and_queued_messages_and_the_restarted_system_runs_them(tmp_path: Path) -> None:
    data, share = tmp_path / "data", tmp_path / "share"
    first = Launch(data, share, tmp_path / "first.log")
    first.start()
    async with aiohttp.ClientSession() as session:
        client = Client(session, first.base_url)
        await client.submit("system.ping", {}, task_id="before-crash")
        await client.wait("before-crash", timeout_s=60)
        freeze(_dramatiq(first.descendants()))  # the workers are stopped: the next task stays queued
        await client.submit("system.ping", {}, task_id="queued-at-crash")
    aof = data / "redis" / "appendonly.aof"
    wait_until(lambda: aof.exists() and b"queued-at-crash" in aof.read_bytes(), 10, 0.05, "the submit in the AOF")
    first.kill_all()

    second = Launch(data, share, tmp_path / "second.log")
    second.start()
    async with aiohttp.ClientSession() as session:
        client = Client(session, second.base_url)
        status, listing, _ = await client.request("GET", "/v1/tasks")
        assert status == 200
        assert {t["task_id"] for t in listing["tasks"]} >= {"before-crash", "queued-at-crash"}
        assert (await client.task("before-crash"))["status"] == "SUCCESS"
        record = await client.wait("queued-at-crash", timeout_s=60)
        assert record["status"] == "SUCCESS"
        assert record["stages"]["system.ping"]["attempts"] == 1

        third = Launch(data, tmp_path / "share3", tmp_path / "third.log")
        refused = await _taskgate(third.env, "run")
        assert refused.returncode == 2
        assert "another taskgate run" in refused.stderr
        assert str(data) in refused.stderr
        same_port = {**third.env, "TASKGATE_DATA_DIR": str(tmp_path / "data3"), "TASKGATE_PORT": str(second.port)}
        refused = await _taskgate(same_port, "run")
        assert refused.returncode == 2
        assert f"port 127.0.0.1:{second.port} is in use" in refused.stderr
        assert not (tmp_path / "data3" / "redis").exists()  # refused before starting anything
        assert (await client.task("before-crash"))["status"] == "SUCCESS"  # the running system is untouched

    procs = second.descendants()
    second.signal(signal.SIGINT)
    assert second.wait() == 0
    wait_until(lambda: all_gone(procs), 30, 0.05, "every process of taskgate run to exit after SIGINT")
    events = _events(second.output())
    assert not [e for e in events if e.get("level") == "critical"]
    stopped = [e["process"] for e in events if e.get("event") == "process_stopped"]
    assert stopped[0] == "gateway"
    assert stopped[-1] == "redis"
    assert set(stopped[1:-1]) == {"workers", "webhooks"}


class _Receiver:
    """Keeps the raw body and headers of every POST, answering 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _hook(self, request: web.Request) -> web.Response:
        self.calls.append((await request.read(), dict(request.headers)))
        return web.Response(status=200)


async def test_webhooks_are_signed_by_default_and_sigkill_of_taskgate_run_leaves_no_process_behind(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    launch = Launch(data, tmp_path / "share", tmp_path / "run.log")
    launch.start()
    secret_file = data / "webhook_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    printed = await _taskgate(launch.env, "webhook-secret")
    assert printed.returncode == 0, printed.stderr
    secret = printed.stdout.strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert secret == secret_file.read_text().strip()

    receiver = _Receiver()
    await receiver.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, launch.base_url)
            await client.submit("system.ping", {}, task_id="signed", callback=f"http://127.0.0.1:{receiver.port}/hook")
            await async_wait_until(lambda: _called(receiver), 60, 0.05, "the webhook")
    finally:
        assert receiver.runner is not None
        await receiver.runner.cleanup()
    body, headers = receiver.calls[0]
    event = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert event["task_id"] == "signed"
    assert event["status"] == "SUCCESS"

    procs = launch.descendants()
    assert len(_dramatiq(procs)) >= 4  # two pools, each a Dramatiq main process and its worker process
    launch.signal(signal.SIGKILL)
    launch.wait()
    wait_until(lambda: all_gone(procs), 60, 0.05, "every process of taskgate run to exit after its SIGKILL")
    # Redis's keeper stopped it after the workers: none of them lost its connection while stopping.
    assert not [e for e in _events(launch.output()) if e.get("level") == "critical"]


async def _called(receiver: _Receiver) -> bool:
    return bool(receiver.calls)
