"""Worker processes failing: SIGKILL under load, a stop signal to the whole process group, a paused holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psutil
import redis

from config import keys
from taskgate.embedded_redis import free_port
from tests.e2e.figures import report, settle
from tests.e2e.launch import wait_stopped
from tests.harness import ROOT, Client, System, async_wait_until, wait_until
from tests.monitor.helpers import fast_env, run_system, session, wait_holding

NO_TIERS = {"gpu_lock_monitor__task_timeout_levels": "{}"}


async def test_sigkilled_worker_under_load_loses_nothing_and_its_prefetched_messages_come_back(
    make_system: Callable[..., System],
) -> None:
    # Dramatiq's own recovery (a maintenance pass after its heartbeat timeout) is off: only the monitor's counts.
    env = fast_env(broker_heartbeat_timeout_s=600, broker_maintenance_chance=0, **NO_TIERS)
    system = await run_system(make_system, env)
    admin = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])
    async with session() as http:
        client = Client(http, system.base_url)
        ids = [f"load-{i}" for i in range(10)]
        for task_id in ids:
            await client.submit("system.sleep", {"seconds": 1.0}, task_id=task_id)
        pid = wait_until(system.worker_pids, timeout_s=30, what="the worker process")[0]

        # the worker's ack set once it holds a message per thread: with priorities on (the default) a worker
        # takes no more than its threads run (the rest wait in Redis, where a higher priority can go ahead)
        def fetched() -> str | None:
            found = [k for k in admin.keys("dramatiq:__acks__.*.system") if admin.scard(k) >= 2]
            return found[0].decode() if found else None

        acks = wait_until(fetched, timeout_s=30, what="messages fetched by every thread")
        fetched = admin.scard(acks)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: not admin.exists(acks), timeout_s=30, what="the dead process's fetched messages put back")
        back_s = time.monotonic() - killed
        records, _ = await settle(client, ids, timeout_s=90)
    admin.close()
    recover_s = time.monotonic() - killed
    report(
        "sigkill_under_load",
        len(ids),
        records,
        recover_s,
        f"kill to all terminal; {fetched} fetched back in {back_s:.2f} s",
    )
    assert {r["status"] for r in records.values()} == {"SUCCESS"}


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def _start_run(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m taskgate run`` as the leader of its own session and process group."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "taskgate", "run"], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )


async def test_sigterm_to_the_process_group_of_taskgate_run_leaves_no_process(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_PORT": str(port),
        "TASKGATE_SHARE_DIR": str(tmp_path / "share"),
        "TASKGATE_DATA_DIR": str(tmp_path / "data"),
        "TASKGATE_LOG_FORMAT": "json",
    }
    launcher = _start_run(env, tmp_path / "run.log")
    try:
        async with session() as http:
            client = Client(http, f"http://127.0.0.1:{port}")

            async def up() -> bool:
                try:
                    return (await client.request("GET", "/healthz"))[0] == 200
                except OSError:
                    return False

            await async_wait_until(up, timeout_s=60, what="the gateway of taskgate run")
            await client.submit("system.ping", {}, task_id="before-stop")
            await client.wait("before-stop", timeout_s=60)
        log = tmp_path / "run.log"
        wait_until(lambda: log.read_text().count("ready for action") >= 2, timeout_s=60, what="both pools up")
        before = len(_session_processes(launcher.pid))
        os.killpg(launcher.pid, signal.SIGTERM)
        signalled = time.monotonic()
        launcher.wait(timeout=60)
        wait_until(lambda: not _session_processes(launcher.pid), timeout_s=30, what="every process of the group gone")
        stop_s = time.monotonic() - signalled
    finally:
        for proc in _session_processes(launcher.pid):
            proc.kill()
    print(f"\nFIGURES group_sigterm: processes={before} left=0 stop_s={stop_s:.2f} (group SIGTERM to none left)")
    assert before >= 7  # launcher, gateway, two supervisors, two Dramatiq pools of a main and a worker each


async def test_a_paused_lease_holder_is_fenced_out_and_its_record_never_overlaps_the_next(
    make_system: Callable[..., System],
) -> None:
    system = make_system(fast_env(gpu_lock__lease_ttl=1, **NO_TIERS))
    system.start_worker(processes=2, threads=1)
    system.start_gateway()
    admin = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])
    async with session() as http:
        client = Client(http, system.base_url)
        await client.submit("system.gpu_hold", {"seconds": 3}, task_id="paused")
        holder = await wait_holding(client, "paused")
        os.kill(holder["pid"], signal.SIGSTOP)  # past its lease: renewals stop, the next holder gets the GPU
        try:
            # Submitted before the stop took effect, the next task could be fetched by the holder itself (its
            # consumer has a free prefetch slot) and then sit in the paused process until it resumes.
            wait_stopped(holder["pid"])
            await client.submit("system.gpu_hold", {"seconds": 0.3}, task_id="next")
            following = await client.wait("next", timeout_s=30)
        finally:
            os.kill(holder["pid"], signal.SIGCONT)
            resumed = time.monotonic()
        paused = await client.wait("paused", timeout_s=30)
        recover_s = time.monotonic() - resumed
    first, second = paused["stages"]["system.gpu_hold"], following["stages"]["system.gpu_hold"]
    gap_ms = (_at(second["gpu"]["acquired_at"]) - _at(first["gpu"]["released_at"])).total_seconds() * 1000
    how = f"SIGCONT to the paused stage terminal; its lease ended {gap_ms:.0f} ms before the next was granted"
    report("paused_lease_holder", 2, {"paused": paused, "next": following}, recover_s, how)
    assert second["status"] == "SUCCESS", second
    assert first["status"] == "FAILED", first
    assert first["error"]["type"] in ("NotLeaseHolder", "LeaseExpired", "LeaseNotHeld"), first["error"]
    assert (first["gpu"]["lease_lost"], second["gpu"]["lease_lost"]) == (True, False)
    assert first["gpu"]["acquired_at"] < first["gpu"]["released_at"] <= second["gpu"]["acquired_at"]
    wait_until(lambda: admin.zcard(keys.RUN_CHECKS) == 0, timeout_s=10, what="both runs untracked")
    admin.close()
    assert "Unexpected failure in after_process_message" not in system.logs("worker")
