"""A small Server-Sent Events reader over aiohttp for the tests (frames as the spec parses them)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Frame:
    """One dispatched event (``comment`` holds a comment line's text, with no event)."""

    event: str
    data: Any
    id: str | None = None
    comment: str | None = None


class SseReader:
    """Read frames from an open ``text/event-stream`` response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.last_id: str | None = None

    async def next(self, timeout_s: float = 10.0) -> Frame | None:
        """Return the next frame or comment; None when the stream ended."""
        event, data, comment = "message", [], None
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout_s)
            if not raw:
                return None
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data or comment:
                    frame = Frame(event, json.loads("\n".join(data)) if data else None, self.last_id, comment)
                    return frame
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                comment = value
            elif field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                self.last_id = value

    async def until(self, found: Callable[[Frame], bool], timeout_s: float = 20.0) -> list[Frame]:
        """Read frames until ``found`` holds for one; return them all (failing at the deadline or the end)."""
        seen: list[Frame] = []
        deadline = time.monotonic() + timeout_s
        while True:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            assert frame is not None, f"the stream ended first; got {[(f.event, f.data) for f in seen]}"
            seen.append(frame)
            if found(frame):
                return seen
