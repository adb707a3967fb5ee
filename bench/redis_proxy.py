"""A TCP proxy in front of Redis for the benchmarks: it counts round trips and can add latency.

A round trip is one request turn on one connection: the client sends (one command, a pipeline or a
script call) and waits for the reply. The proxy counts a turn each time a client writes after the server
last answered it, so a pipeline counts once however many commands it holds, and a blocking BLPOP once.
With ``delay_s`` every chunk the client sends reaches Redis that much later (replies go back at once), as
a Redis across a network would: the cost of a round trip then shows in the throughput.

The proxy runs its own event loop in a thread, so it serves any process (the gateway and workers connect
to its port).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from taskgate.embedded_redis import free_port

_CHUNK = 1 << 16


class RedisProxy:
    """Forward ``127.0.0.1:port`` to Redis at ``target_port``; count request turns; delay requests."""

    def __init__(self, target_port: int, delay_s: float = 0.0) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.port = free_port()
        self.round_trips = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="redis-proxy", daemon=True)

    @property
    def url(self) -> str:
        """Return the ``redis://`` URL clients use to go through the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start listening (returns once the port accepts connections)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        """Close the listening socket and stop the loop (open connections are dropped)."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        answered = [True]  # the server has answered since the client last wrote
        upstream: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._read_client(client_r, upstream, answered)),
            asyncio.create_task(self._send_server(upstream, server_w)),
            asyncio.create_task(self._pipe_back(server_r, client_w, answered)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the proxy stops
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_w, server_w):
                writer.close()

    async def _read_client(
        self, reader: asyncio.StreamReader, upstream: asyncio.Queue[tuple[float, bytes]], answered: list[bool]
    ) -> None:
        while data := await reader.read(_CHUNK):
            if answered[0]:
                self.round_trips += 1
                answered[0] = False
            upstream.put_nowait((time.monotonic() + self.delay_s, data))

    async def _send_server(self, upstream: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        while True:
            due, data = await upstream.get()
            wait_s = due - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            writer.write(data)
            await writer.drain()

    async def _pipe_back(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: list[bool]
    ) -> None:
        while data := await reader.read(_CHUNK):
            answered[0] = True
            writer.write(data)
            await writer.drain()


@contextmanager
def proxied(target_port: int, delay_s: float = 0.0) -> Iterator[RedisProxy]:
    """Run a ``RedisProxy`` for the duration of the block."""
    proxy = RedisProxy(target_port, delay_s)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
