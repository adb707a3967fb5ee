"""A real aiohttp server speaking ``/v1/chat/completions``, run on its own thread so workers can call it."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from taskgate.embedded_redis import free_port
from tests.peer_server import ThreadedServer

_NUMBERED = re.compile(r"^(\d+)\| (.*)$")
Reply = tuple[int, Any, dict[str, str]]
# A script sees each request (and its 1-based number) and may answer it; None falls back to `answer`.
Script = Callable[["Seen", int], Reply | None]


@dataclass
class Seen:
    """One request as the server received it."""

    at: float
    authorization: str
    body: dict[str, Any]

    @property
    def system(self) -> str:
        return str(self.body["messages"][0]["content"])

    @property
    def first_user(self) -> str:
        return str(self.body["messages"][1]["content"])

    def numbered(self) -> list[tuple[int, str]]:
        """Return the numbered lines the request asks about."""
        return [(int(m.group(1)), m.group(2)) for line in self.first_user.splitlines() if (m := _NUMBERED.match(line))]


# Short French lines (any language detector says French; within any cue's budget of 1.5 s and more).
FRENCH = ("Bonjour à tous", "La réunion, vendredi", "À bientôt, chère amie", "Nous verrons bien", "C'est très joli")


SPANISH = ("Hola a todos", "La reunión, viernes", "Hasta pronto, amiga", "Ya veremos", "Es muy bonito")


def fake_french(text: str, tag: str = "[fr]", phrases: tuple[str, ...] = FRENCH) -> str:
    """The server's idea of a translation: ``[fr]``, a French phrase chosen by the text, and the text's numbers."""
    numbers = " ".join(re.findall(r"\d+", text))
    return " ".join(p for p in (tag, phrases[zlib.crc32(text.encode()) % len(phrases)], numbers) if p)


def rewrite(seen: Seen, text: str) -> str:
    """The server's idea of a model: translations are ``fake_french``, proofreading fixes ``teh``."""
    if "You translate" in seen.system:
        return fake_french(text, "[es]", SPANISH) if "into Spanish" in seen.system else fake_french(text)
    return re.sub(r"\bteh\b", "the", text)


def answer(seen: Seen, drop_last: bool = False) -> Reply:
    """Answer every numbered line (or all but the last) in the chat completions shape."""
    lines = [f"{n}| {rewrite(seen, text)}" for n, text in seen.numbered()]
    if drop_last:
        lines = lines[:-1]
    return 200, completion("\n".join(lines)), {}


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@dataclass
class FakeLlm:
    """An OpenAI-compatible endpoint with scripted misbehaviour; records every request."""

    latency_s: float = 0.02
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)
    script: Script | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self, script: Script | None = None) -> None:
        with self._lock:
            self.seen, self.script, self.max_in_flight = [], script, 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            seen = Seen(time.monotonic(), request.headers.get("Authorization", ""), body)
            self.seen.append(seen)
            number, script = len(self.seen), self.script
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s)  # the model's think time, so that concurrency shows
            status, payload, headers = (script and script(seen, number)) or answer(seen)
        finally:
            with self._lock:
                self.in_flight -= 1
        return web.json_response(payload, status=status, headers=headers)

    def start(self) -> None:
        self._server = ThreadedServer(
            "fake LLM", self.port, lambda app: app.router.add_post("/v1/chat/completions", self._handle)
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
