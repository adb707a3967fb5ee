"""What a due check stands for (monitor/tiers.py): the pure rule, on run records as the worker writes them."""

from __future__ import annotations

from typing import Any

import msgspec

from config import keys
from monitor.tiers import due_tiers
from state.tracking import AsyncTracker, RunInfo

LIMITS = {"warning": 1.0, "soft": 2.0, "hard": 4.0}
START = 1_000_000


def _run(rid: str = "w|t") -> dict[str, RunInfo]:
    wid, _, name = rid.partition("|")
    info = RunInfo(workflow_id=wid, task_name=name, host="h", pid=1, started_ms=START, limits_s=LIMITS, probe_s=0.5)
    return {rid: info}


def test_a_run_that_beat_is_looked_at_again_at_each_tier_and_each_tier_is_due_once() -> None:
    runs = _run()
    probe = due_tiers(runs, {"w|t": START + 500}, {"w|t": START + 400}, START + 510, START + 510 - 1500)
    assert (probe.warning, probe.soft, probe.hard, probe.dead) == ([], [], [], [])
    assert probe.again == {"w|t": START + 1000}

    warning = due_tiers(runs, {"w|t": START + 1000}, {"w|t": START + 900}, START + 1005, START + 1005 - 1500)
    assert (warning.warning, warning.soft, warning.hard) == (["w|t"], [], [])
    assert warning.again == {"w|t": START + 2000}

    # a monitor away past two deadlines acts on both at once, and on neither again
    late = due_tiers(runs, {"w|t": START + 2000}, {"w|t": START + 4100}, START + 4200, START + 4200 - 1500)
    assert (late.warning, late.soft, late.hard) == ([], ["w|t"], ["w|t"])
    assert late.again == {}


def test_a_run_that_never_beat_is_dead_after_the_monitors_timeout_and_not_while_redis_was_away() -> None:
    runs = _run()
    young = due_tiers(runs, {"w|t": START + 500}, {}, START + 600, START + 600 - 1500)
    assert young.dead == []
    assert young.again == {"w|t": START + 1000}  # its warning tier comes before a timeout from its start

    silent = due_tiers(runs, {"w|t": START + 1000}, {}, START + 1600, START + 1600 - 1500)
    assert silent.dead == ["w|t"]
    assert (silent.warning, silent.again) == ([], {})

    away = due_tiers(runs, {"w|t": START + 1000}, {}, START + 1600, 0)
    assert away.dead == []
    assert away.warning == ["w|t"]
    assert away.again == {"w|t": START + 2000}  # its soft tier, before the next probe (now + 1 s)


def test_a_check_of_a_run_no_longer_tracked_stands_for_nothing() -> None:
    found = due_tiers({}, {"gone|t": START}, {}, START + 10_000, START)
    assert (found.warning, found.soft, found.hard, found.dead, found.again) == ([], [], [], [], {})


async def test_runs_tracked_before_the_checks_set_get_a_check_due_at_once_and_the_old_keys_go(aredis: Any) -> None:
    """An upgrade while tasks run: their tiers still fire (every passed deadline at the first pass)."""
    old = RunInfo(workflow_id="w1", task_name="t", host="h", pid=1, started_ms=START, limits_s=LIMITS, probe_s=0.5)
    new = RunInfo(workflow_id="w2", task_name="t", host="h", pid=1, started_ms=START, limits_s=LIMITS, probe_s=0.5)
    await aredis.hset(keys.RUNS, mapping={old.run_id: msgspec.json.encode(old), new.run_id: msgspec.json.encode(new)})
    await aredis.zadd(keys.RUN_CHECKS, {new.run_id: START + 500})
    await aredis.zadd("taskgate:runs:deadline:hard", {old.run_id: START + 4000})
    await aredis.hset("taskgate:runs:beats", old.run_id, "{}")

    assert await AsyncTracker(aredis).adopt_unchecked() == 1
    assert await aredis.zscore(keys.RUN_CHECKS, old.run_id) == 0
    assert await aredis.zscore(keys.RUN_CHECKS, new.run_id) == START + 500  # its own check is kept
    assert await aredis.exists("taskgate:runs:deadline:hard", "taskgate:runs:beats") == 0
    due = due_tiers({old.run_id: old}, {old.run_id: 0}, {old.run_id: START + 4100}, START + 4200, START + 2700)
    assert (due.warning, due.soft, due.hard) == ([old.run_id], [old.run_id], [old.run_id])
    assert await AsyncTracker(aredis).adopt_unchecked() == 0
