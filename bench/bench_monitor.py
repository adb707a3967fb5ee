"""One monitor pass with 100,000 tracked healthy runs and 10 overdue ones, against a pass with 100.

Targets: a pass under 10 ms (median), and the 100,000-run pass within 2x of the 100-run baseline
measured in the same run. The 10 overdue runs are past their warning tier each pass (a stage event,
a counter, a journal entry each), so every measured pass does real work.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import redis.asyncio as aioredis
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import Settings, configure_logging, keys
from monitor import Monitor
from state import StateStore, Status
from state.live import LiveSettings
from state.models import StageRecord
from state.tracking import RunInfo
from taskgate.embedded_redis import EmbeddedRedis

OVERDUE = 10
WARNING_MS = 1_800_000
WARNED_AGO_MS = WARNING_MS + 1000  # the overdue runs started this long ago: past the warning tier only
PASSES = 40
TARGET_MS = 10.0
TARGET_RATIO = 2.0
_encoder = msgspec.json.Encoder()
_run_decoder = msgspec.json.Decoder(RunInfo)


async def _seed(client: aioredis.Redis, store: StateStore, healthy: int) -> list[str]:
    await client.flushall()
    seconds, _ = await client.time()
    now_ms = int(seconds) * 1000
    far = now_ms + 3_600_000
    for start in range(0, healthy, 5000):
        ids = [f"healthy-{i}|system.sleep" for i in range(start, min(start + 5000, healthy))]
        infos = {rid: _encoder.encode(_info(rid, now_ms)) for rid in ids}
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.RUNS, mapping=infos)
            pipe.zadd(keys.RUN_HEARTBEATS, dict.fromkeys(ids, now_ms + 600_000))
            pipe.zadd(keys.RUN_CHECKS, dict.fromkeys(ids, far))
            await pipe.execute()
    overdue = []
    for i in range(OVERDUE):
        wid = f"overdue-{i}"
        await store.create_stage(wid, "system.sleep", {"seconds": 1})
        await store.update_stage(wid, "system.sleep", _running)
        rid = f"{wid}|system.sleep"
        await client.hset(keys.RUNS, rid, _encoder.encode(_info(rid, now_ms - WARNED_AGO_MS)))
        await client.zadd(keys.RUN_HEARTBEATS, {rid: now_ms + 600_000})
        overdue.append(rid)
    return overdue


def _running(stage: StageRecord) -> StageRecord:
    stage.status = Status.RUNNING
    stage.started_at_ms = stage.created_at_ms
    return stage


def _info(rid: str, now_ms: int) -> RunInfo:
    wid, _, name = rid.partition("|")
    limits = {"warning": WARNING_MS / 1000, "soft": 3600.0, "hard": 7200.0}
    return RunInfo(workflow_id=wid, task_name=name, host="bench", pid=1, started_ms=now_ms, limits_s=limits)


class _Setup:
    """One Redis server seeded with ``healthy`` runs, and a monitor on it."""

    def __init__(self, root: Path, healthy: int) -> None:
        self.healthy = healthy
        self.server = EmbeddedRedis(root / str(healthy), persist=False)
        self.server.start()
        self.client = aioredis.Redis.from_url(self.server.url)
        self.settings = Settings(redis_url=self.server.url)
        self.monitor = Monitor(self.client, LiveSettings(self.settings), enqueue=None, identity="bench")
        self.overdue: list[str] = []
        self.records: dict[str, bytes] = {}
        self.timings: list[float] = []

    async def seed(self) -> None:
        self.overdue = await _seed(self.client, StateStore(self.client, self.settings.state_ttl_s), self.healthy)
        raws = await self.client.hmget(keys.RUNS, self.overdue)
        self.records = dict(zip(self.overdue, raws, strict=True))

    async def one_pass(self) -> None:
        # each overdue run's check back at its warning deadline (a pass moves it on to the soft tier's)
        warned = {rid: _run_decoder.decode(raw).started_ms + WARNING_MS for rid, raw in self.records.items()}
        await self.client.zadd(keys.RUN_CHECKS, warned)
        started = time.perf_counter()
        report = await self.monitor.pass_once(self.settings)
        self.timings.append((time.perf_counter() - started) * 1000)
        assert report.warning == OVERDUE, report
        assert report.dead == report.hard == report.soft == 0, report

    async def close(self) -> None:
        assert await self.client.hlen(keys.RUNS) == self.healthy + OVERDUE
        await self.client.aclose()
        self.server.stop()


async def main() -> int:
    # JSON log rendering as in production, written nowhere: the pass's own cost, not the terminal's.
    configure_logging("json", "info")
    devnull = Path(os.devnull).open("w")  # noqa: ASYNC230, SIM115  (opened once, before anything is measured)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(devnull))
    with tempfile.TemporaryDirectory() as tmp:
        small, large = _Setup(Path(tmp), 100), _Setup(Path(tmp), 100_000)
        try:
            await small.seed()
            await large.seed()
            for _ in range(PASSES + 3):  # interleaved, so machine noise hits both alike
                await small.one_pass()
                await large.one_pass()
        finally:
            await small.close()
            await large.close()
    small_ms, large_ms = statistics.median(small.timings[3:]), statistics.median(large.timings[3:])
    ratio = large_ms / small_ms
    print(f"monitor pass with {OVERDUE} overdue runs (warning tier), median of {PASSES} passes:")
    print(f"  100 tracked runs:     {small_ms:.2f} ms (p90 {statistics.quantiles(small.timings, n=10)[-1]:.2f} ms)")
    print(f"  100,000 tracked runs: {large_ms:.2f} ms (p90 {statistics.quantiles(large.timings, n=10)[-1]:.2f} ms)")
    print(f"  ratio 100,000 / 100:  {ratio:.2f}x")
    checks = [
        (f"100,000-run pass under {TARGET_MS:g} ms", large_ms < TARGET_MS),
        (f"100-run pass under {TARGET_MS:g} ms", small_ms < TARGET_MS),
        (f"ratio within {TARGET_RATIO:g}x", ratio <= TARGET_RATIO),
    ]
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}: {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
