"""``/v1/tts/voice-maps``: named speaker -> voice maps kept server-side (writing needs the admin scope)."""

from __future__ import annotations

import asyncio
import re

import msgspec
from aiohttp import web

from actors.tts.choice import engine_name, pick_voice
from actors.tts.voice_maps import MAP_NAME, VoiceMap, list_maps, map_path, read_map, write_map
from actors.tts.voices import catalogue
from actors.validation import InvalidInput
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import read_body
from gateway.context import context
from gateway.openapi import describe
from gateway.openapi_paths import path_param
from gateway.problems import problem_response
from gateway.responses import json_response

routes = web.RouteTableDef()
_NAME = re.compile(MAP_NAME)
_decode = msgspec.json.Decoder(VoiceMap).decode
_NAME_PARAM = path_param(
    "name", "the voice map's name", {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
)
_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "engine": {"enum": ["piper", "gpt_sovits", None], "description": "null: tts.engine"},
                    "voices": {
                        "type": "object",
                        "maxProperties": 256,
                        "propertyNames": {"minLength": 1, "maxLength": 64},
                        "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": "speaker label -> voice (GET /v1/tts/voices); an unknown voice is a 422",
                    },
                },
            }
        }
    },
}


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not _NAME.match(name):
        raise InvalidInput(f"{name[:80]!r} is not a voice map name: letters, digits, '.', '_', '-' (1..64)", "$.name")
    return name


def _not_found(request: web.Request, name: str) -> web.Response:
    detail = f"no voice map {name!r}; PUT /v1/tts/voice-maps/{name} makes one"
    return problem_response(404, "not-found", "No such voice map", detail, request.path)


@routes.get("/v1/tts/voice-maps")
async def list_voice_maps(request: web.Request) -> web.Response:
    """List the stored voice maps by name."""
    root = context(request).settings.share_root
    return json_response({"voice_maps": await asyncio.to_thread(list_maps, root)})


@routes.get("/v1/tts/voice-maps/{name}")
@describe(parameters=[_NAME_PARAM])
async def get_voice_map(request: web.Request) -> web.Response:
    """Return one voice map: its engine and ``{speaker: voice}``."""
    name = _name(request)
    found = await asyncio.to_thread(read_map, context(request).settings.share_root, name)
    if found is None:
        return _not_found(request, name)
    return json_response({"name": name, **msgspec.to_builtins(found)})


@routes.put("/v1/tts/voice-maps/{name}")
@require_scope(ADMIN)
@audited("voice_map.put")
@describe(parameters=[_NAME_PARAM], requestBody=_BODY)
async def put_voice_map(request: web.Request) -> web.Response:
    """Write a voice map; every voice must exist for its engine (else 422 listing the voices)."""
    name = _name(request)
    settings = context(request).settings
    try:
        voice_map = _decode(await read_body(request))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(str(exc), "$") from None
    engine = engine_name(settings.tts, voice_map.engine, None)
    if engine not in ("piper", "gpt_sovits"):
        raise InvalidInput(f"unknown engine {engine!r}; engines: piper, gpt_sovits", "$.engine")
    voices = await asyncio.to_thread(catalogue, settings.tts)
    for label, voice in voice_map.voices.items():
        pick_voice(voices, settings.tts, engine, voice, language=None, pointer=f"$.voices.{label}")
    stored = VoiceMap(engine=engine, voices=voice_map.voices)
    existed = await asyncio.to_thread(map_path(settings.share_root, name).exists)
    await asyncio.to_thread(write_map, settings.share_root, name, stored)
    return json_response({"name": name, **msgspec.to_builtins(stored)}, status=200 if existed else 201)


@routes.delete("/v1/tts/voice-maps/{name}")
@require_scope(ADMIN)
@audited("voice_map.delete")
@describe(parameters=[_NAME_PARAM], responses={"204": {"description": "Deleted"}, "404": None, "422": None})
async def delete_voice_map(request: web.Request) -> web.Response:
    """Delete a voice map."""
    name = _name(request)
    try:
        await asyncio.to_thread(map_path(context(request).settings.share_root, name).unlink)
    except FileNotFoundError:
        return _not_found(request, name)
    return web.Response(status=204)
