"""Slow and greedy clients against a real gateway: header and body read times and open connections are bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import System, async_wait_until

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 6
# How long a test waits for the gateway to act on a bound (the bound plus scheduling slack on a busy machine).
DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def gateway(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A gateway with second-scale read bounds, a small connection cap and a 4 KB body limit."""
    env = {
        "TASKGATE_HTTP__HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "TASKGATE_HTTP__BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "TASKGATE_HTTP__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "TASKGATE_MAX_BODY_BYTES": "4096",
    }
    system = System(redis_server.url, tmp_path_factory.mktemp("share"), tmp_path_factory.mktemp("logs"), env)
    system.start_gateway()
    yield system
    system.stop()


class Raw:
    """A raw TCP connection to the gateway, to send requests as slowly or partly as a test needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        """Write ``data`` now."""
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        """Read one response: status, headers (lower-case names), body."""
        async with asyncio.timeout(DEADLINE_S):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if line)
            headers = {k.lower(): v for k, v in headers.items()}
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, body

    async def closed_by_server(self) -> bool:
        """Return whether the server closes the connection (EOF) within the deadline, sending nothing."""
        async with asyncio.timeout(DEADLINE_S):
            return await self.reader.read(1) == b""

    def close(self) -> None:
        """Close our end."""
        self.writer.close()


@pytest.fixture
async def connect(gateway: System) -> AsyncIterator[object]:
    opened: list[Raw] = []

    async def open_one() -> Raw:
        raw = Raw(*await asyncio.open_connection("127.0.0.1", gateway.port))
        opened.append(raw)
        return raw

    yield open_one
    for raw in opened:
        raw.close()


async def test_headers_that_never_finish_are_cut_off(connect) -> None:
    raw = await connect()
    await raw.send(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
    assert await raw.closed_by_server()
    idle = await connect()  # a connection that sends nothing at all is closed the same way
    assert await idle.closed_by_server()


async def test_a_json_body_that_stalls_gets_408(connect) -> None:
    raw = await connect()
    head = b"POST /v1/tasks HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    await raw.send(head + b'{"task_name": ')
    status, headers, body = await raw.answer()
    assert status == 408
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["type"] == "urn:taskgate:problem:request-timeout"
    assert await raw.closed_by_server()


async def test_an_upload_that_stalls_gets_408(connect) -> None:
    raw = await connect()
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\nsome bytes'
    head = (
        b"POST /v1/files?path=slow.bin HTTP/1.1\r\nHost: gw\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    await raw.send(head + part)
    status, _, body = await raw.answer()
    assert status == 408, body
    assert json.loads(body)["status"] == 408


async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(connect) -> None:
    for method, path in (("POST", "/v1/tasks"), ("PUT", "/v1/monitor/config")):
        raw = await connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 10000000"
        await raw.send(head.encode() + b"\r\n\r\n")  # and not one byte of the body
        status, headers, body = await raw.answer()
        assert status == 413, body
        assert headers["content-type"].startswith("application/problem+json")
        assert "4096" in json.loads(body)["detail"]


async def test_connections_over_the_cap_get_503_and_the_gateway_recovers(connect) -> None:
    holders = [await connect() for _ in range(MAX_CONNECTIONS)]
    for holder in holders:  # each one is accepted: half a request line keeps it open
        await holder.send(b"GET /hea")
    extra = await connect()
    status, headers, body = await extra.answer()
    assert status == 503
    assert headers["retry-after"]
    assert json.loads(body)["type"] == "urn:taskgate:problem:too-many-connections"
    for holder in holders:
        holder.close()

    async def healthy() -> bool:
        raw = await connect()
        await raw.send(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        return (await raw.answer())[0] == 200

    await async_wait_until(healthy, DEADLINE_S, 0.05, "the gateway to serve again once the holders left")


async def test_what_the_http_parser_refuses_is_a_problem_document_too(connect) -> None:
    for request in (b"GET /v1/files/\xc3\xa9 HTTP/1.1\r\nHost: gw\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        raw = await connect()
        await raw.send(request)
        status, headers, body = await raw.answer()
        assert status == 400, body
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["status"] == 400
