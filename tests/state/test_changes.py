"""Named stage changes: each is a legal move, and nothing outside ``state/changes.py`` writes a status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from state import IllegalTransition, PreconditionFailed, changes
from state.models import StageError, StageRecord
from state.transitions import Status, check_transition

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("actors", "gateway", "monitor", "state", "gpu_lock", "taskgate", "redis_io", "config")
WRITES = re.compile(r"\.(status|finished_at_ms|started_at_ms)\s*=[^=]")
ERROR = StageError(type="E", message="m")


def _stage(status: Status) -> StageRecord:
    return StageRecord(task_name="system.ping", status=status, input_data={}, input_hash="h", created_at_ms=1)


@pytest.mark.parametrize(
    ("before", "change", "after"),
    [
        (Status.PENDING, changes.start, Status.RUNNING),
        (Status.RUNNING, lambda s: changes.succeed(s, {"pong": True}), Status.SUCCESS),
        (Status.RUNNING, lambda s: changes.fail(s, ERROR), Status.FAILED),
        (Status.RUNNING, lambda s: changes.end(s, Status.CANCELLED, ERROR), Status.CANCELLED),
        (Status.RUNNING, lambda s: changes.lease_lost(s, ERROR, {"device": 0}), Status.FAILED),
        (Status.PENDING, changes.cancel_pending, Status.CANCELLED),
        (Status.RUNNING, lambda s: changes.retry(s, "boom"), Status.PENDING),
        (Status.RUNNING, lambda s: changes.requeue(s, "gone", "m1"), Status.PENDING),
    ],
)
def test_every_named_change_is_a_legal_move(before: Status, change, after: Status) -> None:
    new = change(_stage(before))
    assert new.status == after
    check_transition(before, new.status)
    if after in (Status.SUCCESS, Status.FAILED, Status.CANCELLED):
        assert new.finished_at_ms is not None


def test_lease_lost_marks_the_lease_record_and_requeue_is_remembered() -> None:
    lost = changes.lease_lost(_stage(Status.RUNNING), ERROR, {"device": 0, "fencing_token": 3})
    assert lost.gpu == {"device": 0, "fencing_token": 3, "lease_lost": True}
    requeued = changes.requeue(_stage(Status.RUNNING), "gone", "m1")
    assert changes.was_requeued(requeued)
    assert not changes.was_requeued(_stage(Status.RUNNING))


def test_no_module_but_state_changes_writes_a_stage_status() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "state" / "changes.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if WRITES.search(line) and "self." not in line.split("=")[0]:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize(
    ("found", "name", "change", "expected"),
    [
        (Status.PENDING, "release", changes.release, {Status.SCHEDULED}),
        (Status.SUCCESS, "start", changes.start, {Status.PENDING, Status.RUNNING}),
        (Status.PENDING, "note_gpu", lambda s: changes.note_gpu(s, {"device": 0}), {Status.RUNNING}),
        (Status.PENDING, "note_event", lambda s: changes.note_event(s, {"type": "timeout"}), {Status.RUNNING}),
        (Status.PENDING, "succeed", lambda s: changes.succeed(s, {}), {Status.RUNNING}),
        (Status.PENDING, "end as FAILED", lambda s: changes.fail(s, ERROR), {Status.RUNNING}),
        (
            Status.CANCELLED,
            "reject",
            lambda s: changes.reject(s, ERROR),
            {Status.SCHEDULED, Status.PENDING, Status.RUNNING},
        ),
        (Status.RUNNING, "cancel_pending", changes.cancel_pending, {Status.SCHEDULED, Status.PENDING}),
        (Status.PENDING, "retry", lambda s: changes.retry(s, "boom"), {Status.RUNNING}),
        (Status.PENDING, "requeue", lambda s: changes.requeue(s, "gone", "m1"), {Status.RUNNING}),
        (Status.RUNNING, "redeliver", lambda s: changes.redeliver(s, "m1"), {Status.PENDING}),
        (Status.SUCCESS, "replay", lambda s: changes.replay(s, "m1"), {Status.FAILED, Status.CANCELLED}),
    ],
)
def test_a_named_change_that_does_not_apply_raises_the_one_precondition_error(
    found: Status, name: str, change, expected: set[Status]
) -> None:
    stage = _stage(found)
    with pytest.raises(PreconditionFailed) as raised:
        change(stage)
    error = raised.value
    assert (error.change, error.task_name, error.found, error.expected) == (name, "system.ping", found, expected)
    assert error.stage.status == found  # the record as found, left as it was
    assert isinstance(error, IllegalTransition)  # callers that drop an illegal move drop this too


def test_a_runs_own_change_applies_only_while_its_attempt_owns_the_stage() -> None:
    stage = _stage(Status.RUNNING)
    stage.attempts = 2
    with pytest.raises(PreconditionFailed, match="attempt 1 no longer owns it") as raised:
        changes.retry(stage, "boom", attempt=1)
    assert (raised.value.attempt, raised.value.found) == (1, Status.RUNNING)
    assert changes.retry(stage, "boom", attempt=2).status == Status.PENDING
    requeued = changes.requeue(_stage(Status.RUNNING), "gone", "m1")
    requeued.status = Status.RUNNING
    with pytest.raises(PreconditionFailed, match="re-queued once already"):
        changes.requeue(requeued, "gone again", "m2")
