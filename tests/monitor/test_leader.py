"""Two monitors: exactly one acts; when it dies, the other takes over within one lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config import keys
from tests.harness import ROOT, wait_until
from tests.monitor.helpers import fast_env

LEASE_S = 1.0  # three 0.2 s intervals, raised to the 1 s floor


@pytest.fixture
def monitors(redis_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {**os.environ, **fast_env(), "TASKGATE_REDIS_URL": redis_url, "TASKGATE_LOG_FORMAT": "json"}
    procs = []
    for i in range(2):
        with (tmp_path / f"monitor{i}.log").open("ab") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "monitor"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                )
            )
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _leader_pid(client: redis.Redis) -> int | None:
    token = client.get(keys.MONITOR_LEADER)
    return int(token.decode().split(":")[1]) if token else None


def test_one_of_two_monitors_leads_and_the_other_takes_over_when_it_dies(
    monitors: list[subprocess.Popen[bytes]], redis_client: redis.Redis
) -> None:
    leader = wait_until(lambda: _leader_pid(redis_client), timeout_s=30, what="a leader")
    by_pid = {p.pid: p for p in monitors}
    assert leader in by_pid
    passes = int(redis_client.hget(keys.MONITOR_STATS, "passes_total") or 0)
    wait_until(
        lambda: int(redis_client.hget(keys.MONITOR_STATS, "passes_total") or 0) >= passes + 5,
        timeout_s=10,
        what="passes by the leader",
    )
    assert redis_client.hget(keys.MONITOR_STATS, "leader").decode().split(":")[1] == str(leader)
    assert _leader_pid(redis_client) == leader

    by_pid[leader].send_signal(signal.SIGKILL)
    by_pid[leader].wait()
    killed_at = time.monotonic()
    (follower,) = [pid for pid in by_pid if pid != leader]
    wait_until(lambda: _leader_pid(redis_client) == follower, timeout_s=10, interval_s=0.01, what="takeover")

    assert time.monotonic() - killed_at <= LEASE_S + 0.2 + 0.3  # one lease, one interval, slack
    wait_until(
        lambda: redis_client.hget(keys.MONITOR_STATS, "leader").decode().split(":")[1] == str(follower),
        timeout_s=5,
        what="passes by the new leader",
    )
