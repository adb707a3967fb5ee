"""The operator console in a real browser (headless Chromium) against a real gateway, worker and redis-server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from tests.console.conftest import Tab
from tests.delivery.test_auth import ADMIN_KEY, USER_KEY, keyed_env
from tests.harness import Client, System, async_wait_until
from tests.media import make_video

pytestmark = pytest.mark.e2e
# The README's screenshots: CONSOLE_SCREENSHOT_DIR=docs pytest tests/console -k "home or task_page" refreshes
# them; by default they go to the test's temporary folder (a test run never edits the tree).
SHOTS = "CONSOLE_SCREENSHOT_DIR"


def shot_dir(tmp_path: Path) -> Path:
    """Return where the screenshots go."""
    return Path(os.environ.get(SHOTS) or tmp_path)


async def test_home_lists_a_task_submitted_over_http_and_updates_it_live(
    system: System, client: Client, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    await client.submit("system.ping", {}, task_id="ui-ping")
    (system.share_dir / "notes.mp4").write_text("not a video")  # accepted at submit, fails when probed
    await client.submit("ffmpeg.probe", {"media_path": "notes.mp4"}, task_id="ui-failed")
    await client.wait("ui-failed")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/")
    await expect(page.locator("#live.on")).to_have_count(1)  # the event stream is open
    await expect(page.locator('tr[data-task-id="ui-failed"] .badge')).to_have_text("FAILED")
    await client.submit("system.sleep", {"seconds": 3}, task_id="ui-home")
    row = page.locator('tr[data-task-id="ui-home"]')
    await expect(row).to_be_visible()
    await expect(row.locator(".badge")).to_have_text("RUNNING")
    await expect(row.locator(".badge")).to_have_text("SUCCESS", timeout=15000)
    await expect(row.locator(".pct")).to_have_text("100%")
    await page.screenshot(
        path=str(shot_dir(tmp_path) / "console-tasks.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 400}
    )
    assert tab.errors == []


async def test_task_page_shows_every_stage_and_cancel_from_the_page_cancels(
    system: System, client: Client, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    await client.submit("system.ping", {}, task_id="ui-task")
    await client.wait("ui-task")
    await client.submit("system.sleep", {"seconds": 30}, task_id="ui-task")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/tasks/ui-task")
    ping = page.locator('section[data-stage="system.ping"]')
    sleep = page.locator('section[data-stage="system.sleep"]')
    await expect(ping.locator(".badge")).to_have_text("SUCCESS")
    await expect(ping.locator(".kv")).to_contain_text("pong")
    await expect(sleep.locator(".badge")).to_have_text("RUNNING")
    await expect(sleep.locator(".pct")).not_to_have_text("")  # progress arrives over the task's event stream
    await page.screenshot(path=str(shot_dir(tmp_path) / "console-task.png"), full_page=True)
    await page.get_by_role("button", name="Cancel").click()
    await expect(sleep.locator(".badge")).to_have_text("CANCELLED", timeout=15000)
    assert (await client.task("ui-task"))["status"] == "CANCELLED"
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert tab.errors == []


async def test_the_task_list_filters_by_label_and_its_bulk_bar_cancels_what_matches(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    for n in range(3):
        await client.submit("system.sleep", {"seconds": 30}, task_id=f"ui-bulk-{n}", labels={"ui": "bulk"})
    await client.submit("system.ping", {}, task_id="ui-other")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/")
    await expect(page.locator('tr[data-task-id="ui-other"]')).to_have_count(1)
    await page.fill("#f-label", "ui:bulk")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#task-rows tr")).to_have_count(3)
    await expect(page.locator('tr[data-task-id="ui-other"]')).to_have_count(0)
    await page.get_by_role("button", name="Cancel matching…").click()
    await expect(page.locator("#bulk-message")).to_have_text("3 of 3 matching tasks would be cancelled.")
    await page.get_by_role("button", name="Cancel 3").click()
    await expect(page.locator("#bulk-message")).to_contain_text("3 tasks cancelled")
    for n in range(3):
        await client.wait(f"ui-bulk-{n}", timeout_s=30)
        assert (await client.task(f"ui-bulk-{n}"))["status"] == "CANCELLED"
    assert tab.errors == []


async def test_gpu_page_shows_the_holder_and_its_waiter_and_an_admin_releases_it(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    await client.submit("system.gpu_hold", {"seconds": 60}, task_id="ui-hold")
    await client.wait("ui-hold", statuses={"RUNNING"})

    async def holding() -> bool:  # RUNNING comes before the lease: the waiter must come after the grant
        _, body, _ = await client.request("GET", "/v1/tasks/ui-hold")
        return bool(body["stages"]["system.gpu_hold"].get("gpu"))

    await async_wait_until(holding, timeout_s=30, what="ui-hold holding the lease")
    await client.submit("system.gpu_hold", {"seconds": 60}, task_id="ui-wait")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/gpus")
    device = page.locator('section[data-device="0"]')
    await expect(device.locator("tbody tr")).to_contain_text("ui-hold")
    await expect(device.locator('.waiters li[data-task-id="ui-wait"]')).to_be_visible()
    await expect(device.locator(".membar .seg.held")).to_have_count(1)  # one slot of one, held
    await expect(device.locator('.gantt .bar.hold[data-task-id="ui-hold"]')).to_have_count(1)
    await expect(device.locator('.gantt .bar.wait[data-task-id="ui-wait"]')).to_have_count(1)
    await device.get_by_role("button", name="Force release").click()
    await expect(device.locator("tbody tr")).to_contain_text("ui-wait", timeout=15000)  # handed to the waiter
    await expect(device.locator(".waiters")).to_have_count(0)
    for task_id in ("ui-hold", "ui-wait"):
        await client.request("DELETE", f"/v1/tasks/{task_id}")
    assert tab.errors == []


async def test_gpu_page_shows_memory_held_by_whom_free_and_reserve_and_the_waits(
    make_system: Callable[..., System], open_tab: Callable[..., Tab]
) -> None:
    env = {
        "TASKGATE_GPU_LOCK__DEVICES": json.dumps([{"index": 0, "memory_mb": 10_000}]),
        "TASKGATE_GPU_LOCK__RESERVE_MB": "1000",
    }
    system = make_system(env)
    system.start_worker(threads=3)
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("system.gpu_hold", {"seconds": 60, "memory_mb": 3000}, task_id="ui-mem-a")
        await client.submit("system.gpu_hold", {"seconds": 60, "memory_mb": 2000}, task_id="ui-mem-b")

        async def device_is(held: int, waiters: int) -> bool:
            _, body, _ = await client.request("GET", "/v1/monitor/gpu-locks")
            return bool(body["devices"][0]["held"] == held and body["devices"][0]["waiters"] == waiters)

        await async_wait_until(lambda: device_is(5000, 0), timeout_s=30, what="both holds granted")
        await client.submit("system.gpu_hold", {"seconds": 60, "memory_mb": 8000}, task_id="ui-mem-big")
        await async_wait_until(lambda: device_is(5000, 1), timeout_s=30, what="the big hold queued")
        tab = await open_tab(system.base_url)
        page = tab.page
        await page.goto("/ui/gpus")
        device = page.locator('section[data-device="0"]')
        await expect(device.locator("h2")).to_contain_text("5000/9000 MiB held")
        await expect(device.locator(".membar .seg.held")).to_have_count(2)
        await expect(device.locator(".membar")).to_have_attribute(
            "aria-label", "GPU 0: 5000 of 9000 MiB held, 4000 free, 1000 MiB reserved"
        )
        await expect(device.locator('.waiters li[data-task-id="ui-mem-big"]')).to_contain_text("asking 8000 MiB")
        await expect(device.locator('.gantt .bar.wait[data-task-id="ui-mem-big"]')).to_have_count(1)
        await expect(device.locator(".gantt .bar.hold")).to_have_count(2)
        for task_id in ("ui-mem-a", "ui-mem-b"):
            await client.request("DELETE", f"/v1/tasks/{task_id}")
        await expect(device.locator('tbody tr:has-text("ui-mem-big")')).to_have_count(1, timeout=15000)
        await expect(device.locator('.gantt .bar.hold[data-task-id="ui-mem-big"]')).to_have_count(1)
        await client.request("DELETE", "/v1/tasks/ui-mem-big")
        assert tab.errors == []


async def test_the_submit_form_starts_a_ping(system: System, client: Client, open_tab: Callable[..., Tab]) -> None:
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/submit")
    await expect(page.get_by_label("Task", exact=True)).to_have_value("system.ping")
    await page.get_by_label("task_id").fill("ui-submitted")
    await page.get_by_role("button", name="Submit").click()
    await page.wait_for_url("**/ui/tasks/ui-submitted")
    await expect(page.locator('section[data-stage="system.ping"] .badge')).to_have_text("SUCCESS", timeout=15000)
    assert (await client.task("ui-submitted"))["stages"]["system.ping"]["output"] == {"pong": True}

    await page.goto("/ui/submit")  # a later start: SCHEDULED with its time on the task page, then it runs
    await page.get_by_label("task_id").fill("ui-later")
    await page.get_by_label("Start after").fill("4")
    await page.get_by_role("button", name="Submit").click()
    await page.wait_for_url("**/ui/tasks/ui-later")
    later = page.locator('section[data-stage="system.ping"]')
    await expect(later.locator(".badge")).to_have_text("SCHEDULED")
    await expect(later.locator(".facts")).to_contain_text("Starts at")
    await expect(later.locator(".badge")).to_have_text("SUCCESS", timeout=20000)
    assert tab.errors == []


async def test_with_keys_no_key_shows_no_data_and_a_user_key_sees_no_admin_controls(
    make_system: Callable[..., System], open_tab: Callable[..., Tab]
) -> None:
    system = make_system(keyed_env())
    system.start_gateway()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as session:
        await Client(session, system.base_url).submit("system.ping", {}, task_id="ui-secret")
    anonymous = await open_tab(system.base_url)
    await anonymous.page.goto("/")
    await expect(anonymous.page.get_by_role("dialog")).to_be_visible()
    await expect(anonymous.page.locator("main")).to_contain_text("An API key is needed")
    await expect(anonymous.page.locator("#task-rows tr")).to_have_count(0)

    await anonymous.page.get_by_label("Key", exact=True).fill(USER_KEY)
    await anonymous.page.get_by_role("button", name="Use key").click()
    await expect(anonymous.page.locator('tr[data-task-id="ui-secret"]')).to_be_visible()
    await expect(anonymous.page.locator("#who")).to_have_text("alice (user)")

    user = await open_tab(system.base_url, key=USER_KEY)
    for path in ("/ui/gpus", "/ui/monitor", "/ui/workers", "/ui/audit", "/ui/keys"):
        await user.page.goto(path)
        await expect(user.page.locator("main .notice")).to_contain_text("admin scope")
        await expect(user.page.get_by_role("button", name="Force release")).to_have_count(0)
        await expect(user.page.get_by_role("button", name="Save settings")).to_have_count(0)
    assert user.errors == []

    admin = await open_tab(system.base_url, key=ADMIN_KEY)
    await admin.page.goto("/ui/monitor")
    await expect(admin.page.get_by_role("button", name="Save settings")).to_be_visible()
    await admin.page.get_by_label("Overrides", exact=False).fill(
        '{"gpu_lock_monitor": {"timeout_levels": {"warning": -1}}}'
    )
    await admin.page.get_by_role("button", name="Save settings").click()
    await expect(admin.page.locator(".notice.error")).to_be_visible()  # refused the way PUT refuses it
    await admin.page.goto("/ui/audit")  # the refused change is in the audit log, with who and how it ended
    first = admin.page.locator("#audit-rows tr").first
    await expect(first).to_contain_text("config.update")
    await expect(first.locator("td").nth(1)).to_have_text("ops")
    await expect(first.locator("td").nth(4)).to_have_text("422")
    await admin.page.get_by_label("Action").fill("task.")
    await admin.page.get_by_role("button", name="Filter").click()
    await expect(admin.page.locator("#audit-rows tr")).to_have_count(0)

    await admin.page.goto("/ui/keys")  # limits per key, changed at run time from the page
    alice = admin.page.locator('section[data-key="alice"]')
    await expect(alice.locator("h2")).to_contain_text("no limits")
    ops = admin.page.locator('section[data-key="ops"] .counts')
    await expect(ops).to_contain_text("1 queued")  # ui-secret waits (no worker here)
    await alice.get_by_label("Limits of alice").fill('{"max_queued": 0}')
    await alice.get_by_role("button", name="Save limits").click()
    await expect(alice.locator("h2")).to_contain_text("limits from run time")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {USER_KEY}"}) as session:
        status, body, _ = await Client(session, system.base_url).request(
            "POST", "/v1/tasks", json={"task_name": "system.ping", "task_id": "ui-over"}
        )
    assert (status, body["limit"]) == (429, "max_queued"), body
    await alice.get_by_label("Limits of alice").fill('{"max_queued": -1}')
    await alice.get_by_role("button", name="Save limits").click()
    await expect(alice.locator(".notice.error")).to_contain_text("$.max_queued")
    await alice.get_by_role("button", name="Use the settings file's").click()
    await expect(alice.locator("h2")).to_contain_text("no limits")
    # Expected network errors only: the refused settings (422) and health without workers (503, by design).
    assert [e for e in admin.errors if "status of 422" not in e and "503" not in e] == []


async def test_no_page_logs_an_error_and_each_fits_a_phone(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    await client.submit("system.ping", {}, task_id="ui-all")
    await client.wait("ui-all")
    status, batch, _ = await client.request(
        "POST", "/v1/batches", json={"task_name": "system.ping", "items": [{}] * 3, "batch_id": "ui-phone"}
    )
    assert status == 201, batch
    await async_wait_until(lambda: _healthy(client), timeout_s=30, what="a worker seen alive")
    for width, dark in ((1280, False), (390, True)):
        tab = await open_tab(system.base_url, width=width, height=844, dark=dark)
        for path in (
            "/",
            "/ui/tasks/ui-all",
            "/ui/submit",
            "/ui/gpus",
            "/ui/workers",
            "/ui/monitor",
            "/ui/audit",
            "/ui/batches",
            "/ui/batches/ui-phone",
            "/ui/keys",
            "/docs",
        ):
            await tab.page.goto(path)
            if path == "/docs":  # the API explorer, linked from the console
                await expect(tab.page.locator(".opblock").first).to_be_visible()
            else:
                await expect(tab.page.locator("main")).not_to_contain_text("Loading")
            overflow = await tab.page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, width, overflow)
        assert tab.errors == [], width
        await tab.page.goto("/")
        background = await tab.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(17, 22, 29)" if dark else "rgb(246, 247, 249)")  # prefers-color-scheme


async def test_task_page_draws_the_workflow_as_a_live_graph_of_its_stages_and_references(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    make_video(system.share_dir / "graph.mp4", seconds=1.0)
    await client.submit("system.sleep", {"seconds": 4}, task_id="ui-graph")  # no reference: no edge
    await client.submit("ffmpeg.extract_audio", {"video_path": "graph.mp4"}, task_id="ui-graph")
    probe = {"media_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}
    await client.submit("ffmpeg.probe", probe, task_id="ui-graph")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/tasks/ui-graph")
    graph = page.locator("#graph svg.graph")
    await expect(graph.locator("g.node")).to_have_count(3)
    sleep = graph.locator('g.node[data-stage="system.sleep"]')
    await expect(sleep).to_have_attribute("data-status", "RUNNING", timeout=15000)
    edge = graph.locator("path.edge")
    await expect(edge).to_have_count(1)
    await expect(edge).to_have_attribute("data-from", "ffmpeg.extract_audio")
    await expect(edge).to_have_attribute("data-to", "ffmpeg.probe")
    # Live: every node moves to its end without a reload, coloured by its status.
    for name in ("ffmpeg.extract_audio", "ffmpeg.probe", "system.sleep"):
        node = graph.locator(f'g.node[data-stage="{name}"]')
        await expect(node).to_have_attribute("data-status", "SUCCESS", timeout=30000)
        await expect(node).to_have_class("node s-success")
    colour = await sleep.evaluate("node => getComputedStyle(node.querySelector('rect')).stroke")
    assert colour == "rgb(31, 122, 63)"  # --ok
    assert tab.errors == []


async def test_batch_pages_list_a_batch_follow_its_items_live_and_cancel_it(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    items = [{"seconds": 0.2}, {"seconds": 0.2}, {"seconds": 60}, {"seconds": 60}, {"seconds": 60}]
    body = {"task_name": "system.sleep", "items": items, "batch_id": "ui-batch"}
    status, created, _ = await client.request("POST", "/v1/batches", json=body)
    assert status == 201, created
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/batches")
    row = page.locator('#batches tr[data-batch-id="ui-batch"]')
    await expect(row).to_contain_text("system.sleep")
    await row.get_by_role("link", name="ui-batch").click()
    await expect(page).to_have_url(f"{system.base_url}/ui/batches/ui-batch")
    await expect(page.locator("#items tbody tr")).to_have_count(5)
    await expect(page.locator('li[data-count="SUCCESS"]')).to_contain_text("2", timeout=15000)
    await expect(page.locator('#items tr[data-task-id="ui-batch-0"] .badge')).to_have_text("SUCCESS")
    await page.get_by_role("button", name="Cancel the batch").click()
    await expect(page.locator('li[data-count="CANCELLED"]')).to_contain_text("3", timeout=15000)
    await expect(page.locator(".task-head > p .badge")).to_have_text("COMPLETED", timeout=15000)
    await expect(page.get_by_role("button", name="Cancel the batch")).to_have_count(0)
    assert (await client.task("ui-batch-4"))["status"] == "CANCELLED"
    assert tab.errors == []


async def _healthy(client: Client) -> bool:
    status, _, _ = await client.request("GET", "/v1/monitor/health")
    return status == 200


async def test_the_workers_page_pauses_and_resumes_a_queue_and_drains_a_host(
    system: System, client: Client, open_tab: Callable[..., Tab]
) -> None:
    await client.submit("system.ping", {}, task_id="ui-queues")  # a worker seen alive: its host is listed
    await client.wait("ui-queues")
    tab = await open_tab(system.base_url)
    page = tab.page
    await page.goto("/ui/workers")
    row = page.locator('tr[data-queue="system"]')
    await row.get_by_role("button", name="Pause queue system").click()
    await expect(row).to_contain_text("paused")
    _, body, _ = await client.request("GET", "/v1/queues")
    assert next(q for q in body["queues"] if q["queue"] == "system")["paused"]
    await row.get_by_role("button", name="Resume queue system").click()
    await expect(row).to_contain_text("running")
    host = page.locator("tr[data-worker]").first
    await host.get_by_role("button", name="Drain host", exact=False).click()
    await expect(host).to_contain_text("drained")
    await host.get_by_role("button", name="Undrain host", exact=False).click()
    await expect(host).to_contain_text("taking work")
    assert tab.errors == []
