"""A real aiohttp webhook receiver that verifies Standard Webhooks signatures, and a file server for URL inputs."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from aiohttp import web

from actors.webhooks.events import verify
from taskgate.embedded_redis import free_port

SECRET = "whsec_" + "dGFza2dhdGUtdGVzdC1zZWNyZXQtMzItYnl0ZXMhIQ=="


class Receiver:
    """Answers each path from a script of status codes (then 200); keeps every verified event."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.scripts: dict[str, list[int]] = defaultdict(list)
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.files: dict[str, bytes] = {}
        self.gate = asyncio.Event()
        self.gate.set()
        self.slow_started = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._hook)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/redirect/{name}", self._redirect)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.gate.set()
        if self._runner:
            await self._runner.cleanup()

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def events_for(self, task_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["body"]["task_id"] == task_id]

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not verify(self.secret, headers, body):
            self.bad_signatures += 1
            return web.Response(status=401)
        script = self.scripts[request.match_info["name"]]
        status = script.pop(0) if script else 200
        self.events.append({"headers": headers, "raw": body, "body": json.loads(body), "answered": status})
        return web.Response(status=status)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        if request.query.get("slow") and not self.gate.is_set():
            resp = web.StreamResponse(headers={"Content-Length": str(len(data))})
            await resp.prepare(request)
            await resp.write(data[:1024])
            self.slow_started.set()
            await self.gate.wait()
            await resp.write(data[1024:])
            return resp
        return web.Response(body=data)

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/files/{request.match_info['name']}")
