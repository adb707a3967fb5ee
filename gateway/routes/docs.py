"""``/openapi.json`` and ``/docs``: the API description and Swagger UI on it (assets from swagger-ui-py, no CDN).

The page loads Swagger UI's files from the installed ``swagger_ui`` package and ``docs.js`` from the console's
files; "Try it out" sends the console tab's API key (sessionStorage) as ``Authorization``, or the one typed
into Swagger UI's Authorize dialog.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from aiohttp import web

from gateway.context import SETTINGS
from gateway.openapi import build_document, hidden

routes = web.RouteTableDef()

_DOCUMENT = web.AppKey("taskgate_openapi", dict)
_SWAGGER = files("swagger_ui") / "static"
_SERVED = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
}
_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskgate API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="stylesheet" href="/ui/static/docs.css">
</head>
<body>
<header class="docs-top"><a href="/">taskgate console</a> <span>API explorer</span>
<a href="/openapi.json">openapi.json</a></header>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/ui/static/docs.js"></script>
</body>
</html>
"""
# Swagger UI sets inline styles; scripts come only from this origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _document(app: web.Application) -> dict[str, Any]:
    """Build the document on first use (every route is registered by then) and keep it."""
    if _DOCUMENT not in app:
        app[_DOCUMENT] = build_document(app, app[SETTINGS])
    return app[_DOCUMENT]


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """Return the OpenAPI 3.1 document."""
    return web.json_response(_document(request.app))


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    """Return the API explorer (Swagger UI on ``/openapi.json``)."""
    return web.Response(
        body=_PAGE, content_type="text/html", charset="utf-8", headers={"Content-Security-Policy": _CSP}
    )


@routes.get("/docs/static/{name}", allow_head=False)
@hidden
async def swagger_asset(request: web.Request) -> web.Response:
    """Return one of Swagger UI's files."""
    name = request.match_info["name"]
    if name not in _SERVED:
        raise web.HTTPNotFound(text=f"no API explorer file {name!r}")
    return web.Response(
        body=(_SWAGGER / name).read_bytes(), content_type=_SERVED[name], headers={"Cache-Control": "max-age=86400"}
    )
