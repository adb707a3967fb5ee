"""A scripted OpenAI-compatible server that shortens dubbing lines: the peer of the LLM shortening path.

It answers each request with the user's line cut, word by word, to the character budget the system prompt
names ("at most N characters"), the way a model asked to shorten would; it records every request.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from taskgate.embedded_redis import free_port
from tests.peer_server import ThreadedServer

_BUDGET = re.compile(r"at most (\d+) characters")


def shorten_to(text: str, budget: int) -> str:
    """Return ``text`` cut to whole words within ``budget`` characters, ending with a full stop."""
    words, out = text.rstrip(".!?").split(), ""
    for word in words:
        candidate = f"{out} {word}".strip()
        if len(candidate) + 1 > budget:
            break
        out = candidate
    return f"{out or words[0]}."


@dataclass
class ShorteningLlm:
    """The server: ``requests`` holds each (budget, line) it was asked."""

    port: int = field(default_factory=free_port)
    requests: list[tuple[int, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        system, line = body["messages"][0]["content"], body["messages"][1]["content"]
        match = _BUDGET.search(system)
        budget = int(match.group(1)) if match else len(line)
        with self._lock:
            self.requests.append((budget, line))
        return web.json_response(_completion(shorten_to(line, budget)))

    def start(self) -> None:
        self._server = ThreadedServer(
            "shortening LLM", self.port, lambda app: app.router.add_post("/v1/chat/completions", self._handle)
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-dub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "shortener",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
