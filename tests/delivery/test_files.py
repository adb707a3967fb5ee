"""``/v1/files`` against a real gateway: streamed round trips, Range, traversal, overwrite, limits, URL inputs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from tests.delivery.receiver import Receiver
from tests.harness import Client, System
from tests.media import make_video

BIG_BYTES = 96 * 1024 * 1024


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def files_system(make_system: Callable[..., System]) -> System:
    system = make_system({"TASKGATE_FILES__MAX_UPLOAD_BYTES": str(BIG_BYTES + 1024)})
    system.start_worker(queues=["ffmpeg"])
    system.start_gateway()
    return system


@pytest.fixture
async def fclient(files_system: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, files_system.base_url)


def _form(path: str | None, payload, overwrite: bool = False, filename: str = "data.bin") -> aiohttp.FormData:
    form = aiohttp.FormData()
    if path is not None:
        form.add_field("path", path)
    form.add_field("overwrite", "true" if overwrite else "false")
    form.add_field("file", payload, filename=filename, content_type="application/octet-stream")
    return form


async def test_large_upload_and_download_stream_without_buffering_and_honour_range(
    files_system: System, fclient: Client, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for i in range(BIG_BYTES // (1024 * 1024)):
            out.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    pid = files_system.procs["gateway"].pid
    before_kb = _peak_rss_kb(pid)

    with source.open("rb") as handle:
        status, body, headers = await fclient.request("POST", "/v1/files", data=_form("in/big.bin", handle))
    assert status == 201, body
    assert body == {"path": "in/big.bin", "size_bytes": BIG_BYTES, "sha256": digest}
    assert headers["Location"] == "/v1/files/in%2Fbig.bin"
    assert (files_system.share_dir / "in" / "big.bin").stat().st_size == BIG_BYTES

    got = hashlib.sha256()
    async with fclient.session.get(f"{fclient.base_url}/v1/files/in/big.bin") as resp:
        assert resp.status == 200
        async for chunk in resp.content.iter_chunked(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == digest
    # Neither direction held the file in memory: the gateway's peak RSS grew far less than its size.
    assert (_peak_rss_kb(pid) - before_kb) * 1024 < BIG_BYTES / 3

    raw = source.read_bytes()
    async with fclient.session.get(
        f"{fclient.base_url}/v1/files/in/big.bin", headers={"Range": "bytes=1000-1999"}
    ) as resp:
        assert resp.status == 206
        assert await resp.read() == raw[1000:2000]
        assert resp.headers["Content-Range"] == f"bytes 1000-1999/{BIG_BYTES}"
    async with fclient.session.get(f"{fclient.base_url}/v1/files/in/big.bin", headers={"Range": "bytes=-10"}) as resp:
        assert resp.status == 206
        assert await resp.read() == raw[-10:]


async def test_traversal_attempts_are_refused(files_system: System, fclient: Client, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (files_system.share_dir / "escape").symlink_to(tmp_path)
    for target in ("../x.txt", "a/../../x.txt", str(outside), "escape/new.txt", ".taskgate-tmp/x"):
        status, body, _ = await fclient.request("POST", "/v1/files", data=_form(target, b"x"))
        assert status == 422, (target, body)
        assert body["type"] == "urn:taskgate:problem:invalid-input"
    assert outside.read_text() == "secret"
    assert not (tmp_path / "x.txt").exists()
    for raw in ("/v1/files/%2e%2e/%2e%2e/etc/passwd", "/v1/files/escape/outside.txt", "/v1/files/%2Fetc%2Fpasswd"):
        async with fclient.session.get(URL(fclient.base_url + raw, encoded=True)) as resp:
            assert resp.status in (404, 422), raw
            assert "secret" not in await resp.text()
            assert "root:" not in await resp.text()
    status, body, _ = await fclient.request("POST", "/v1/files", data=_form(None, b"x", filename="../../evil.txt"))
    assert status == 201
    assert body["path"].startswith("uploads/")
    assert "/" not in body["path"][len("uploads/") :]


async def test_existing_files_are_not_overwritten_unless_asked(files_system: System, fclient: Client) -> None:
    assert (await fclient.request("POST", "/v1/files", data=_form("doc.txt", b"one")))[0] == 201
    status, body, _ = await fclient.request("POST", "/v1/files", data=_form("doc.txt", b"two"))
    assert status == 409
    assert body["type"] == "urn:taskgate:problem:file-exists"
    assert (files_system.share_dir / "doc.txt").read_bytes() == b"one"
    assert (await fclient.request("POST", "/v1/files", data=_form("doc.txt", b"two", overwrite=True)))[0] == 201
    assert (files_system.share_dir / "doc.txt").read_bytes() == b"two"
    assert not os.listdir(files_system.share_dir / ".taskgate-tmp")


async def test_upload_over_the_limit_is_refused_and_leaves_nothing(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    system = make_system({"TASKGATE_FILES__MAX_UPLOAD_BYTES": "100000"})
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        status, body, _ = await client.request("POST", "/v1/files", data=_form("big.bin", b"x" * 200_000))
        assert status == 413
        assert body["type"] == "urn:taskgate:problem:too-large"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is enforced while streaming
            for _ in range(20):
                yield b"x" * 10_000

        status, body, _ = await client.request("POST", "/v1/files", data=_form("big.bin", chunks()))
        assert status == 413, body
    assert not (system.share_dir / "big.bin").exists()
    assert not os.listdir(system.share_dir / ".taskgate-tmp")


async def test_list_with_prefix_and_delete(files_system: System, fclient: Client) -> None:
    for name in ("a/1.txt", "a/2.txt", "b/3.txt"):
        assert (await fclient.request("POST", "/v1/files", data=_form(name, b"abc")))[0] == 201
    status, body, _ = await fclient.request("GET", "/v1/files?prefix=a/")
    assert status == 200
    assert [f["path"] for f in body["files"]] == ["a/1.txt", "a/2.txt"]
    assert body["truncated"] is False
    assert body["files"][0]["size_bytes"] == 3
    status, body, _ = await fclient.request("GET", "/v1/files?limit=1")
    assert [f["path"] for f in body["files"]] == ["a/1.txt"]
    assert body["truncated"] is True
    assert (await fclient.request("DELETE", "/v1/files/a/1.txt"))[0] == 204
    assert (await fclient.request("GET", "/v1/files/a/1.txt"))[0] == 404
    assert (await fclient.request("DELETE", "/v1/files/a/1.txt"))[0] == 404


async def test_url_inputs_are_downloaded_under_the_policy_and_size_cap(
    files_system: System, fclient: Client, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.files["clip.mp4"] = make_video(tmp_path / "clip.mp4", seconds=1.0).read_bytes()
    await fclient.submit(
        "ffmpeg.probe", {"media_path": f"{receiver.base_url}/redirect/clip.mp4?token=s3cret"}, task_id="url-ok"
    )
    await fclient.submit(
        "ffmpeg.probe", {"media_path": "http://169.254.169.254/latest/meta-data"}, task_id="url-metadata"
    )
    await fclient.submit("ffmpeg.probe", {"media_path": f"{receiver.base_url}/files/missing.mp4"}, task_id="url-404")
    ok = await fclient.wait("url-ok")
    assert ok["status"] == "SUCCESS", ok
    assert ok["stages"]["ffmpeg.probe"]["output"]["duration_s"] > 0.5
    assert (files_system.share_dir / "workflows/url-ok/ffmpeg.probe/inputs/clip.mp4").is_file()
    metadata = await fclient.wait("url-metadata")
    assert metadata["status"] == "FAILED"
    assert "network policy" in metadata["error"]["message"]
    missing = await fclient.wait("url-404")
    assert missing["status"] == "FAILED"
    assert "404" in missing["error"]["message"]
    status, body, _ = await fclient.request(
        "POST", "/v1/tasks", json={"task_name": "ffmpeg.probe", "input_data": {"media_path": "http://"}}
    )
    assert status == 422
    assert body["errors"][0]["pointer"] == "$.input_data.media_path"
    assert "s3cret" not in files_system.logs("worker")
