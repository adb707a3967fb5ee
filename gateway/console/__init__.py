"""The operator console: one HTML page at ``/`` and ``/ui/...`` with its static files, and ``/v1/whoami``.

The page is plain HTML, CSS and JavaScript shipped in this package (``static/``): no build step, no CDN.
It reads the same API as any client, with the key the operator types in (kept in the tab's
sessionStorage, sent as an ``Authorization`` header), and follows ``/v1/events`` with ``fetch`` streaming
(``EventSource`` cannot send headers). The shell and its files need no key: they hold no data.
"""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from gateway.auth import ADMIN, OPEN, PRINCIPAL, USER, Principal, keyring
from gateway.openapi import hidden
from gateway.responses import json_response

routes = web.RouteTableDef()

_STATIC = files("gateway.console") / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
# Each page of the console is the same shell; its script renders the page the path names.
PAGES = (
    "/",
    "/ui/",
    "/ui/tasks",
    "/ui/tasks/{task_id}",
    "/ui/gpus",
    "/ui/workers",
    "/ui/monitor",
    "/ui/submit",
    "/ui/audit",
    "/ui/batches",
    "/ui/batches/{batch_id}",
    "/ui/keys",
)
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _asset(name: str) -> bytes:
    return (_STATIC / name).read_bytes()


async def page(request: web.Request) -> web.Response:
    """Return the console's page (the script reads the path)."""
    return web.Response(
        body=_asset("index.html"),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
    )


for _path in PAGES:
    routes.get(_path, allow_head=False)(hidden(page))


@routes.get("/ui/static/{name}", allow_head=False)
@hidden
async def static(request: web.Request) -> web.Response:
    """Return one of the console's static files."""
    name = request.match_info["name"]
    kind = _TYPES.get(name[name.rfind(".") :]) if "." in name else None
    if kind is None or "/" in name or name.startswith(".") or not (_STATIC / name).is_file():
        raise web.HTTPNotFound(text=f"no console file {name!r}")
    return web.Response(body=_asset(name), content_type=kind, headers={"Cache-Control": "no-cache"})


@routes.get("/v1/whoami")
async def whoami(request: web.Request) -> web.Response:
    """Return the caller's key name and scopes, and whether keys are configured at all."""
    principal: Principal = request.get(PRINCIPAL, OPEN)
    return json_response(
        {
            "name": principal.name,
            "scopes": sorted(principal.scopes),
            "admin": principal.allows(ADMIN),
            "user": principal.allows(USER),
            "auth_enabled": keyring(request.app).enabled,
        }
    )
