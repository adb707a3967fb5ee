"""``POST /v1/batches`` refuses bad batches whole, naming the item and field, and creates nothing of them."""

from __future__ import annotations

from typing import Any

from tests.harness import Client

GATEWAY_ENV = {"TASKGATE_BATCHES__MAX_ITEMS": "5"}


async def _refused(gw: Client, body: dict[str, Any], status: int = 422) -> dict[str, Any]:
    got, problem, headers = await gw.request("POST", "/v1/batches", json=body)
    assert got == status, problem
    assert headers["Content-Type"].startswith("application/problem+json")
    return dict(problem)


async def _nothing_created(gw: Client, batch_id: str, size: int) -> None:
    status, _body, _ = await gw.request("GET", f"/v1/batches/{batch_id}")
    assert status == 404
    for index in range(size):
        status, _body, _ = await gw.request("GET", f"/v1/tasks/{batch_id}-{index}")
        assert status == 404


async def test_one_bad_item_refuses_the_batch_naming_the_item_and_field(gw: Client) -> None:
    items: list[dict[str, Any]] = [{"seconds": 0.1}, {"seconds": 0.2}, {"seconds": -1}, {"seconds": 0.1}]
    problem = await _refused(gw, {"task_name": "system.sleep", "items": items, "batch_id": "bad1"})
    [error] = problem["errors"]
    assert error["pointer"] == "$.items[2].seconds"
    assert "item 2" in error["detail"]
    await _nothing_created(gw, "bad1", 4)

    problem = await _refused(gw, {"task_name": "system.sleep", "items": [{"seconds": 1}, {"secs": 1}]})
    assert problem["errors"][0]["pointer"] == "$.items[1].secs"
    assert "did you mean `seconds`" in problem["errors"][0]["detail"]

    reference = {"seconds": "${{ stages.system.ping.output.pong }}"}
    problem = await _refused(gw, {"task_name": "system.sleep", "items": [reference], "batch_id": "bad2"})
    assert problem["errors"][0]["pointer"].startswith("$.items[0]")
    await _nothing_created(gw, "bad2", 1)


async def test_a_batch_over_the_limit_and_other_bad_bodies_are_refused(gw: Client) -> None:
    problem = await _refused(gw, {"task_name": "system.ping", "items": [{}] * 6, "batch_id": "big"})
    assert "at most 5 items" in problem["detail"]
    assert "batches.max_items" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "$.items"
    await _nothing_created(gw, "big", 6)

    problem = await _refused(gw, {"task_name": "system.nope", "items": [{}]})
    assert "task-types" in problem["detail"]
    await _refused(gw, {"task_name": "system.ping", "items": []})
    await _refused(gw, {"task_name": "system.ping", "items": [{}], "batch_id": "no spaces"})
    await _refused(gw, {"task_name": "system.ping", "items": [{}], "extra": 1})
    await _refused(gw, {"task_name": "system.ping", "items": [{}], "callback": "http://169.254.169.254/x"})
    await _refused(gw, {"task_name": "system.ping", "items": [{}], "labels": {"a b": "c"}})
    status, problem, _ = await gw.request("GET", "/v1/batches?limit=0")
    assert status == 400, problem
    status, problem, _ = await gw.request("GET", "/v1/batches/none")
    assert status == 404, problem


async def test_a_batch_creates_one_pending_workflow_per_item_and_answers_the_same_body_alike(gw: Client) -> None:
    body = {"task_name": "system.ping", "items": [{}] * 5, "batch_id": "five", "labels": {"run": "nightly"}}
    status, created, _ = await gw.request("POST", "/v1/batches", json=body)
    assert status == 201, created
    assert created["counts"]["PENDING"] == 5
    assert created["labels"] == {"run": "nightly"}
    assert created["status"] == "RUNNING"
    for index in range(5):
        record = await gw.task(f"five-{index}")
        assert record["task_name"] == "system.ping"
        assert record["status"] == "PENDING"
        assert record["callback"] is None
    status, again, _ = await gw.request("POST", "/v1/batches", json=body)
    assert status == 200, again
    assert again["created_at"] == created["created_at"]
    problem = await _refused(gw, {**body, "labels": {"run": "other"}}, 409)
    assert "five" in problem["detail"]

    await gw.submit("system.ping", {}, task_id="used-1")
    problem = await _refused(gw, {"task_name": "system.ping", "items": [{}] * 3, "batch_id": "used"}, 409)
    assert "'used-1' (item 1) is already used" in problem["detail"]
    status, _body, _ = await gw.request("GET", "/v1/batches/used")
    assert status == 404
