"""API keys: ``Authorization: Bearer <key>`` checked against SHA-256 hashes from settings; scopes per route."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiohttp import web

from config import Settings
from gateway.problems import Handler, problem_response

SCOPE_ATTR = "__taskgate_scope__"
USER, ADMIN = "user", "admin"

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger(__name__)


def require_scope(scope: str) -> Callable[[F], F]:
    """Mark a handler as needing ``scope`` (``"admin"``): callers with only ``user`` get 403.

    Stack it under the route decorator; the auth middleware enforces it, and the OpenAPI document shows it.
    """

    def mark(handler: F) -> F:
        setattr(handler, SCOPE_ATTR, scope)
        return handler

    return mark


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of an API key, the form settings store."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's name and scopes (``open`` when no key is configured)."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Return whether this caller holds ``scope`` (admin holds every scope)."""
        return scope in self.scopes or ADMIN in self.scopes


OPEN = Principal(name="open", scopes=frozenset({USER, ADMIN}))
PRINCIPAL = web.RequestKey("taskgate_principal", Principal)


class KeyRing:
    """The configured keys, by hash; lookups compare every hash in constant time."""

    def __init__(self, settings: Settings) -> None:
        self.keys = [
            (bytes.fromhex(k.key_sha256), Principal(k.name, frozenset(k.scopes))) for k in settings.auth.api_keys
        ]
        auth = settings.auth
        self.open_paths = {
            path
            for path, keyed in (
                ("/healthz", auth.protect_health),
                ("/readyz", auth.protect_health),
                ("/metrics", auth.protect_metrics),
                ("/openapi.json", auth.protect_docs),
                ("/docs", auth.protect_docs),
            )
            if not keyed
        }
        self.open_paths.add("/")  # the console's shell and files hold no data; the page asks for a key
        self.open_prefixes: tuple[str, ...] = ("/ui/",) if auth.protect_docs else ("/ui/", "/docs/static/")

    @property
    def enabled(self) -> bool:
        """Return whether any key is configured (else the API is open)."""
        return bool(self.keys)

    def lookup(self, header: str | None) -> Principal | None:
        """Return the principal of a ``Bearer`` header, or None when it names no configured key."""
        if not header or header[:7].lower() != "bearer ":
            return None
        digest = hashlib.sha256(header[7:].strip().encode()).digest()
        found = None
        for stored, principal in self.keys:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


_KEYRING = web.AppKey("taskgate_keyring", KeyRing)


def keyring(app: web.Application) -> KeyRing:
    """Return the application's configured keys."""
    return app[_KEYRING]


def _refuse(request: web.Request, status: int, detail: str) -> web.Response:
    reason = "missing" if status == 401 and "Authorization" not in request.headers else "refused"
    log.info("request_refused", path=request.path, status=status, reason=reason)
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="taskgate"'}
        return problem_response(401, "unauthorized", "Unauthorized", detail, request.path, headers=headers)
    return problem_response(403, "forbidden", "Forbidden", detail, request.path)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a key on every route except the open ones; enforce the route's scope."""
    ring = request.app[_KEYRING]
    if not ring.enabled:
        request[PRINCIPAL] = OPEN
        return await handler(request)
    principal = ring.lookup(request.headers.get("Authorization"))
    if principal is None:
        if request.path in ring.open_paths or request.path.startswith(ring.open_prefixes):
            return await handler(request)
        return _refuse(request, 401, "send a valid API key as 'Authorization: Bearer <key>'")
    request[PRINCIPAL] = principal
    scope = getattr(request.match_info.handler, SCOPE_ATTR, USER)
    if not principal.allows(scope):
        return _refuse(request, 403, f"this endpoint needs the {scope!r} scope; key {principal.name!r} lacks it")
    return await handler(request)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(app: web.Application, settings: Settings) -> None:
    """Add the auth middleware; warn loudly when a non-loopback bind has no keys."""
    ring = KeyRing(settings)
    app[_KEYRING] = ring
    app.middlewares.append(auth_middleware)
    if not ring.enabled and not _loopback(settings.host):
        log.warning("auth_disabled_on_public_address", host=settings.host, port=settings.port)
        print(
            f"\n*** WARNING: taskgate listens on {settings.host}:{settings.port} with NO API keys: anyone who can "
            "reach it can run tasks and read files. Configure auth.api_keys (taskgate hash-key). ***\n",
            file=sys.stderr,
            flush=True,
        )
