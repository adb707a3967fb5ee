"""``GET /v1/tts/voices``: the voices ``tts.*`` tasks can use, read from files (no engine is loaded)."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from actors.tts.choice import engine_name
from actors.tts.voices import catalogue, default_voice, packaged_voices
from gateway.context import context
from gateway.responses import json_response

routes = web.RouteTableDef()


async def warm_catalogue(app: web.Application) -> None:
    """Read the installed voice packages in the background, so that the first submit rarely waits for it."""
    asyncio.get_running_loop().run_in_executor(None, packaged_voices)  # cached once read


@routes.get("/v1/tts/voices")
async def list_voices(request: web.Request) -> web.Response:
    """List the text-to-speech voices, and the engine and voice used when a request names none."""
    ctx = context(request)
    settings = ctx.settings.tts
    voices = await asyncio.to_thread(catalogue, settings)  # reads voice configs and package metadata
    engine = engine_name(settings, None, None)
    listed = []
    for voice in voices:
        entry = msgspec.to_builtins(voice)
        entry.pop("model_path", None)  # a path on this host, not the workers'
        listed.append(entry)
    default = {"engine": engine, "voice": default_voice(voices, settings, engine, None)}
    return json_response({"default": default, "voices": listed})
