"""Read and decode JSON request bodies: size, read time and nesting depth are bounded before any handler sees them."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from gateway.context import SETTINGS
from gateway.errors import BadRequest, BodyTimeout

# Deeper JSON is refused with 400: nothing taskgate accepts nests this far, and msgspec, the references walk and
# the Dramatiq message encoding all recurse per level.
MAX_JSON_DEPTH = 32

T = TypeVar("T")
_EXACT_INT = 2**53


def too_large(request: web.Request, limit: int) -> bool:
    """Return whether the declared ``Content-Length`` is over ``limit`` (answered 413 before reading)."""
    return (request.content_length or 0) > limit


async def read_body(request: web.Request) -> bytes:
    """Read the whole body within ``http.body_timeout_s``.

    Raises:
        web.HTTPRequestEntityTooLarge: the declared or actual size is over ``max_body_bytes``.
        BodyTimeout: the client did not send the body in time.
    """
    settings = request.app[SETTINGS]
    if too_large(request, settings.max_body_bytes):
        raise web.HTTPRequestEntityTooLarge(max_size=settings.max_body_bytes, actual_size=request.content_length or 0)
    try:
        async with asyncio.timeout(settings.http.body_timeout_s):
            return await request.read()
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {settings.http.body_timeout_s:g} s") from None


def normalize(value: Any) -> int:
    """Return how deeply ``value`` nests objects and arrays (a scalar is 0), without recursion.

    Integral floats (``12.0``) inside become ints on the way: JSON Schema calls them integers, msgspec would not.
    The walk stops below ``MAX_JSON_DEPTH``.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        for key in keys:
            child = node[key]
            if isinstance(child, float) and child.is_integer() and abs(child) <= _EXACT_INT:
                node[key] = int(child)
            elif isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def decode_json(body: bytes, kind: type[T]) -> T:
    """Decode ``body``, refusing nesting deeper than ``MAX_JSON_DEPTH``.

    Raises:
        BadRequest: the body is not JSON, or nests too deeply.
        msgspec.ValidationError: it is JSON of another shape than ``kind`` (the caller names the field).
    """
    too_deep = BadRequest(f"the body nests objects and arrays deeper than {MAX_JSON_DEPTH} levels")
    try:
        raw = _ANY.decode(body)
    except RecursionError:
        raise too_deep from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if normalize(raw) > MAX_JSON_DEPTH:
        raise too_deep
    return msgspec.convert(raw, kind)


_ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
