"""Serve the gateway with bounded read times and a cap on the connections open at once.

aiohttp closes a connection whose request line and headers are not complete when its keep-alive timer fires
(the timer starts when the connection opens and again after each answer), so ``http.header_timeout_s`` is
that timer. Bodies are read within ``http.body_timeout_s`` by the handlers (``gateway.bodies``, the upload).
A connection over ``http.max_connections`` is answered 503 and closed before anything of it is read.
"""

from __future__ import annotations

import asyncio
import signal
from http import HTTPStatus
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_request import BaseRequest

from config import Settings
from gateway.problems import PROBLEM_JSON, RETRY_AFTER_S, Problem, problem_response

# After an answer that left the body unread (413, 408), read and drop the rest for at most this long, so the
# client gets to read the answer, then close.
LINGER_S = 2.0
# The longest request line: a path of 4096 characters of four UTF-8 bytes each, percent-encoded, fits.
MAX_LINE_BYTES = 64 * 1024


def _busy_answer() -> bytes:
    body = msgspec.json.encode(
        Problem(
            type="urn:taskgate:problem:too-many-connections",
            title="Service Unavailable",
            status=503,
            detail="the gateway has as many connections open as http.max_connections allows; retry later",
        )
    )
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class _Busy(asyncio.Protocol):
    """Answer 503 to a connection over the cap, then drop what it sends until it closes (or ``LINGER_S``).

    Closing at once, with the client's request unread, would make the kernel reset the connection and the
    client could lose the answer.
    """

    answer = _busy_answer()

    def __init__(self) -> None:
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Write the answer, end our side, and close after ``LINGER_S`` at the latest."""
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(self.answer)
            if transport.can_write_eof():
                transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        """Drop the request: it is never read."""

    def eof_received(self) -> bool:
        """Close once the client has ended its side."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer."""
        if self.timer is not None:
            self.timer.cancel()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted in ``Gate.open`` from creation until the connection ends.

    Counting at creation matters: the event loop accepts a burst of connections (creating every protocol)
    before any of them is told it is connected.
    """

    def __init__(self, inner: asyncio.Protocol, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Pass on."""
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Pass on."""
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        """Pass on."""
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        """Pass on."""
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        """Pass on."""
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        """Uncount, pass on."""
        self.gate.open -= 1
        self.inner.connection_lost(exc)


class _ProblemHandler(web.RequestHandler):
    """aiohttp's connection handler, whose parser errors (a malformed request line or header) are problem documents."""

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """Log as aiohttp does, answer a problem document and close the connection."""
        super().handle_error(request, status, exc, message)
        phrase = HTTPStatus(status).phrase
        slug = phrase.lower().replace(" ", "-")
        detail = (message or phrase).splitlines()[0][:200] if status < 500 else None
        response = problem_response(status, slug, phrase, detail, None)
        response.force_close()
        return response


class Gate:
    """A protocol factory: aiohttp's handler while fewer than ``max_connections`` are open, else ``_Busy``."""

    def __init__(self, server: web.Server, max_connections: int, handler_options: dict[str, Any]) -> None:
        self.server, self.max_connections, self.options = server, max_connections, handler_options
        self.open = 0

    def __call__(self) -> asyncio.BaseProtocol:
        """Return the protocol of a new connection."""
        if self.open >= self.max_connections:
            return _Busy()
        self.open += 1
        handler = _ProblemHandler(self.server, loop=asyncio.get_running_loop(), **self.options)
        return _Counted(handler, self)


async def serve(app: web.Application, settings: Settings) -> None:
    """Serve ``app`` on ``settings.host:port`` until SIGINT or SIGTERM, then shut down cleanly."""
    options: dict[str, Any] = {
        "access_log": None,
        "keepalive_timeout": settings.http.header_timeout_s,
        "lingering_time": LINGER_S,
        "max_line_size": MAX_LINE_BYTES,
    }
    runner = web.AppRunner(app, handle_signals=False, **options)
    await runner.setup()
    if runner.server is None:
        raise RuntimeError("the aiohttp runner did not set up a server")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gate = Gate(runner.server, settings.http.max_connections, options)
    listener = await loop.create_server(gate, settings.host, settings.port, reuse_address=True)
    try:
        await stop.wait()
    finally:
        listener.close()
        await runner.cleanup()


def run(app: web.Application, settings: Settings) -> None:
    """Serve ``app`` in a new event loop until stopped."""
    asyncio.run(serve(app, settings))
