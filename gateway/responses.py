"""Response helpers every handler shares: JSON bodies encoded once with msgspec."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Return ``data`` as an ``application/json`` response, encoded with msgspec."""
    return web.Response(body=_encoder.encode(data), status=status, content_type="application/json", headers=headers)
