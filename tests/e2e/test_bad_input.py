"""Crafted input against a real gateway: each case is answered with a problem document and a 4xx, never a 5xx."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.harness import Client, System

PROBLEM = "application/problem+json"
LONG_NAME = "n" * 256  # one byte over NAME_MAX
SPOOL = ".taskgate-tmp"


async def problem(gw: Client, status: int, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Send a request; return its problem document after checking the status and media type."""
    async with gw.session.request(method, URL(gw.base_url + path, encoded=True), **kwargs) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == status, body
        assert resp.headers["Content-Type"].startswith(PROBLEM)
    assert body["status"] == status
    return dict(body)


def nested(depth: int) -> bytes:
    """Return JSON arrays nested ``depth`` deep (the client's own encoder would recurse too)."""
    return b"[" * depth + b"]" * depth


def form(path: str | None, payload: bytes = b"x", overwrite: str | None = None) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", payload, filename="f.bin")
    if path is not None:
        data.add_field("path", path)
    if overwrite is not None:
        data.add_field("overwrite", overwrite)
    return data


async def test_json_nested_past_the_limit_is_400_on_every_json_body(gw: Client) -> None:
    json_type = {"Content-Type": "application/json"}
    deep = b'{"task_name": "system.ping", "input_data": {"a": ' + nested(1000) + b"}}"  # about 2 KB
    body = await problem(gw, 400, "POST", "/v1/tasks", data=deep, headers=json_type)
    assert "deeper than 32" in body["detail"]
    patch = b'{"gpu_lock": {"devices": ' + nested(1000) + b"}}"
    await problem(gw, 400, "PUT", "/v1/monitor/config", data=patch, headers=json_type)
    release = b'{"reason": ' + nested(100_000) + b"}"
    await problem(gw, 400, "POST", "/v1/monitor/gpu-locks/0/release", data=release, headers=json_type)
    # Within the limit the body is decoded and the schema decides (422, not 400).
    shallow = b'{"task_name": "system.ping", "input_data": {"a": ' + nested(20) + b"}}"
    await problem(gw, 422, "POST", "/v1/tasks", data=shallow, headers=json_type)


@pytest.mark.parametrize("task_id", ["abc\n", "abc\n\n", "ok\r"])
async def test_task_id_with_a_trailing_newline_is_422(gw: Client, task_id: str) -> None:
    payload = {"task_name": "system.ping", "task_id": task_id}
    body = await problem(gw, 422, "POST", "/v1/tasks", json=payload)
    assert body["errors"][0]["pointer"] == "$.task_id"


async def test_language_code_with_a_trailing_newline_is_422(gw: Client) -> None:
    data = {"audio_path": "a.wav", "language": "en\n"}
    body = await problem(
        gw, 422, "POST", "/v1/tasks", json={"task_name": "faster_whisper.transcribe_audio", "input_data": data}
    )
    assert body["errors"][0]["pointer"] == "$.input_data.language"


async def test_a_path_name_over_255_bytes_is_422_on_every_files_route(gw: Client) -> None:
    for method, path in (("GET", f"/v1/files/{LONG_NAME}"), ("DELETE", f"/v1/files/a/{LONG_NAME}/b")):
        body = await problem(gw, 422, method, path)
        assert "255 bytes" in body["detail"]
    body = await problem(gw, 422, "POST", "/v1/files", data=form(f"a/{LONG_NAME}"))
    assert "255 bytes" in body["detail"]
    await problem(gw, 422, "POST", f"/v1/files?path={LONG_NAME}", data=form(None))
    await problem(gw, 422, "GET", "/v1/files/" + "/".join(["d" * 200] * 21))  # over PATH_MAX with the root
    multibyte = "%C3%A9" * 128  # 128 characters, 256 bytes
    await problem(gw, 422, "GET", "/v1/files/" + multibyte)
    task = {"task_name": "ffmpeg.probe", "input_data": {"media_path": f"in/{LONG_NAME}.mp4"}}
    body = await problem(gw, 422, "POST", "/v1/tasks", json=task)
    assert body["errors"][0]["pointer"] == "$.input_data.media_path"


async def test_the_upload_spool_is_unreachable_in_every_spelling(gw: Client, gateway_only: System) -> None:
    root = gateway_only.share_dir.resolve()
    (root / SPOOL).mkdir(exist_ok=True)
    (root / SPOOL / "x").write_text("in flight")
    (root / "into-spool").unlink(missing_ok=True)
    (root / "into-spool").symlink_to(root / SPOOL)
    spellings = [f"{SPOOL}/x", f"/{root}/{SPOOL}/x", f"{root}/{SPOOL}/x", "into-spool/x", f"%2E{SPOOL[1:]}/x"]
    for spelling in spellings:
        await problem(gw, 422, "GET", f"/v1/files/{spelling}")
        await problem(gw, 422, "DELETE", f"/v1/files/{spelling}")
    for target in (f"{root}/{SPOOL}/new", f"{root}/{SPOOL}/x", "into-spool/new", f"./{SPOOL}/new"):
        await problem(gw, 422, "POST", "/v1/files", data=form(target, overwrite="true"))
    assert (root / SPOOL / "x").read_text() == "in flight"
    assert sorted(os.listdir(root / SPOOL)) == ["x"]
    task = {"task_name": "ffmpeg.probe", "input_data": {"media_path": f"{root}/{SPOOL}/x"}}
    await problem(gw, 422, "POST", "/v1/tasks", json=task)
    status, listing, _ = await gw.request("GET", f"/v1/files?prefix={SPOOL}/")
    assert (status, listing["files"]) == (200, [])


async def test_an_upload_below_a_file_is_422_not_500(gw: Client) -> None:
    status, _, _ = await gw.request("POST", "/v1/files", data=form("plain"))
    assert status == 201
    for below in ("plain/b.txt", "plain/deeper/b.txt"):
        body = await problem(gw, 422, "POST", "/v1/files", data=form(below))
        assert body["errors"][0]["pointer"] == "$.path"
        assert "is a file" in body["detail"]


async def test_a_field_given_both_in_the_query_and_the_form_is_refused(gw: Client) -> None:
    # the query's path is checked before the body is read; a form field may not replace it afterwards
    body = await problem(gw, 422, "POST", "/v1/files?path=ok.txt", data=form(f"{SPOOL}/x"))
    assert body["errors"][0]["pointer"] == "$.path"
    body = await problem(gw, 422, "POST", "/v1/files?overwrite=false", data=form("ok.txt", overwrite="true"))
    assert body["errors"][0]["pointer"] == "$.overwrite"
    twice = form("ok.txt")
    twice.add_field("path", "other.txt")
    await problem(gw, 422, "POST", "/v1/files", data=twice)
    status, listing, _ = await gw.request("GET", "/v1/files?prefix=ok.txt")
    assert (status, listing["files"]) == (200, [])  # nothing was stored


async def test_overwrite_takes_only_true_or_false(gw: Client) -> None:
    for value in ("yes", "1", "TRUE", ""):
        body = await problem(gw, 422, "POST", "/v1/files", data=form("ow.txt", overwrite=value))
        assert body["errors"][0]["pointer"] == "$.overwrite"
    await problem(gw, 422, "POST", "/v1/files?overwrite=maybe", data=form("ow.txt"))
    status, _, _ = await gw.request("POST", "/v1/files", data=form("ow.txt", overwrite="false"))
    assert status == 201


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"gpu_lock_monitor": {"heartbeat": {"interval": 1e308}}}, "$.gpu_lock_monitor.heartbeat.interval"),
        ({"gpu_lock": {"lease_ttl": 1e-9}}, "$.gpu_lock.lease_ttl"),
        ({"gpu_lock_monitor": {"heartbeat": {"interval": 30, "timeout": 20}}}, "$.gpu_lock_monitor.heartbeat"),
        ({"gpu_lock": {"lease_ttl": 600, "lock_timeout": 60}}, "$.gpu_lock"),
        ({"gpu_lock": {"poll_interval": 0}}, "$.gpu_lock.poll_interval"),
        ({"gpu_lock_monitor": {"monitor_interval": 1e9}}, "$.gpu_lock_monitor.monitor_interval"),
        ({"gpu_lock_monitor": {"timeout_levels": {"hard_timeout": 1e12}}}, "$.gpu_lock_monitor.timeout_levels"),
        ({"gpu_lock": {"backoff_factor": 1e6}}, "$.gpu_lock.backoff_factor"),
        ({"gpu_lock_monitor": {"pending_timeout": 1e308}}, "$.gpu_lock_monitor.pending_timeout"),
        ({"gpu_lock_monitor": {"pending_timeout": 1e-323}}, "$.gpu_lock_monitor.pending_timeout"),
        ({"gpu_lock": {"devices": [-1482307091583]}}, "$.gpu_lock.devices[0]"),
        ({"gpu_lock": {"devices": [0, 1024]}}, "$.gpu_lock.devices[1]"),
        ({"gpu_lock": {"lease_ttl": 1e-323}}, "$.gpu_lock.lease_ttl"),
    ],
)
async def test_live_settings_out_of_bounds_or_contradictory_are_422(gw: Client, patch: dict, pointer: str) -> None:
    body = await problem(gw, 422, "PUT", "/v1/monitor/config", json=patch)
    assert body["errors"][0]["pointer"].startswith(pointer), body
    status, current, _ = await gw.request("GET", "/v1/monitor/config")
    assert (status, current["overrides"]) == (200, {})


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/hook",  # decimal 127.0.0.1
        "http://0x7f000001/hook",  # hex
        "http://0177.0.0.1/hook",  # octal
        "http://127.1/hook",  # short form
        "http://169.254.169.254.nip.io.0x1/",  # a numeric last label
        "http://example.com/a\x00b",  # NUL
        "http://example.com/\x1b[31m",  # escape
        "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254, in hex
        "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated
        "http://[::a9fe:a9fe]/",  # IPv4-compatible
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64
        "http://[2002:a9fe:a9fe::1]/",  # 6to4
    ],
)
async def test_odd_ipv4_forms_and_control_characters_in_urls_are_422_at_submit(gw: Client, url: str) -> None:
    body = await problem(gw, 422, "POST", "/v1/tasks", json={"task_name": "system.ping", "callback": url})
    assert body["errors"][0]["pointer"] == "$.callback"
    task = {"task_name": "ffmpeg.probe", "input_data": {"media_path": url}}
    body = await problem(gw, 422, "POST", "/v1/tasks", json=task)
    assert body["errors"][0]["pointer"] == "$.input_data.media_path"


async def test_redeliver_without_a_callback_is_409(gw: Client) -> None:
    await gw.submit("system.ping", {}, task_id="no-hook")
    body = await problem(gw, 409, "POST", "/v1/tasks/no-hook/callback/redeliver")
    assert "no callback URL" in body["detail"]


async def test_a_long_request_line_is_answered_as_a_problem(gw: Client) -> None:
    await problem(gw, 422, "GET", "/v1/files/" + "%C3%A9" * 2000)  # 12 KB of request line: past aiohttp's default
