"""``/v1/glossaries``: named glossaries (source term -> target term) that ``llm.translate_subtitles`` uses by name.

Admin scope: a glossary changes every translation that names it. Stored in Redis as JSON (``config.keys.GLOSSARY``).
"""

from __future__ import annotations

import re

import msgspec
from aiohttp import web

from actors.llm.glossary import Glossary, GlossaryError, as_terms
from actors.validation import InvalidInput
from config import keys
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import decode_json, read_body
from gateway.context import context
from gateway.openapi import describe
from gateway.openapi_paths import json_doc, path_param, ref
from gateway.problems import problem_response
from gateway.responses import json_response

routes = web.RouteTableDef()

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_NAME_PARAM = path_param(
    "name", "Letters, digits, `_`, `.`, `-` (at most 64)", {"type": "string", "pattern": _NAME.pattern}
)
_VIEW_SCHEMA = {
    "type": "object",
    "description": "The glossary as stored, with its `name` and `terms_count`",
    "required": ["name", "terms", "terms_count"],
}
_decoder = msgspec.json.Decoder(Glossary)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not _NAME.match(name):
        raise InvalidInput(
            f"glossary name {name[:80]!r} is not allowed: use letters, digits, '_', '.', '-' (at most 64, "
            "starting with a letter or digit)",
            "$.name",
        )
    return name


def _missing(request: web.Request, name: str) -> web.Response:
    return problem_response(404, "glossary-not-found", "No such glossary", f"no glossary named {name!r}", request.path)


def _view(name: str, glossary: Glossary) -> dict[str, object]:
    terms = as_terms(glossary.terms)
    return {"name": name, **msgspec.to_builtins(glossary), "terms_count": len(terms)}


@routes.get("/v1/glossaries")
@require_scope(ADMIN)
@describe(responses={"200": json_doc({"type": "object"}, "The stored glossary names, sorted")})
async def list_glossaries(request: web.Request) -> web.Response:
    """List the names of the stored glossaries."""
    names = await context(request).redis.smembers(keys.GLOSSARY_NAMES)
    return json_response({"glossaries": sorted(n.decode() if isinstance(n, bytes) else n for n in names)})


@routes.get("/v1/glossaries/{name}")
@require_scope(ADMIN)
@describe(parameters=[_NAME_PARAM], responses={"200": json_doc(_VIEW_SCHEMA, "The glossary"), "404": None, "422": None})
async def get_glossary(request: web.Request) -> web.Response:
    """Read a named glossary."""
    name = _name(request)
    raw = await context(request).redis.get(keys.glossary(name))
    if raw is None:
        return _missing(request, name)
    return json_response(_view(name, _decoder.decode(raw)))


@routes.put("/v1/glossaries/{name}")
@require_scope(ADMIN)
@audited("glossary.put")
@describe(
    parameters=[_NAME_PARAM],
    requestBody={"required": True, "content": {"application/json": {"schema": ref("Glossary")}}},
    responses={
        "200": json_doc(_VIEW_SCHEMA, "Replaced"),
        "201": json_doc(_VIEW_SCHEMA, "Created"),
        "400": None,
        "413": None,
        "422": None,
    },
)
async def put_glossary(request: web.Request) -> web.Response:
    """Create or replace a named glossary: ``terms`` is a map of source -> target, or a list of entries."""
    name = _name(request)
    try:
        glossary = decode_json(await read_body(request), Glossary)
        as_terms(glossary.terms)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{exc}", "$") from None
    except GlossaryError as exc:
        raise InvalidInput(str(exc), "$.terms") from None
    redis = context(request).redis
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.glossary(name), msgspec.json.encode(glossary))
        pipe.sadd(keys.GLOSSARY_NAMES, name)
        _, added = await pipe.execute()
    return json_response(_view(name, glossary), 201 if added else 200)


@routes.delete("/v1/glossaries/{name}")
@require_scope(ADMIN)
@audited("glossary.delete")
@describe(parameters=[_NAME_PARAM], responses={"204": {"description": "Deleted"}, "404": None, "422": None})
async def delete_glossary(request: web.Request) -> web.Response:
    """Delete a named glossary; translations already submitted that name it will fail to find it."""
    name = _name(request)
    redis = context(request).redis
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.glossary(name))
        pipe.srem(keys.GLOSSARY_NAMES, name)
        deleted, _ = await pipe.execute()
    return web.Response(status=204) if deleted else _missing(request, name)
