"""The OpenAPI 3.1 document, generated from the msgspec Structs, the task registry and the router."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from actors.llm.glossary import Glossary
from actors.pipeline.definition import Definition
from actors.registry import REGISTRY
from actors.webhooks.events import WebhookEvent
from config import Settings
from config.limits import KeyLimits
from gateway import api_models as m
from gateway.auth import SCOPE_ATTR, KeyRing
from gateway.openapi_keys import key_operations
from gateway.openapi_paths import PROBLEMS, REF, Operations, json_doc, operations, path_param, problem_doc, ref
from gateway.openapi_rules import callback_schema, tighten_input
from gateway.openapi_search import search_operations
from gateway.problems import Problem
from gateway.routes.monitor import LiveConfigPatch, ReleaseRequest
from gateway.task_filters import BulkRequest
from state import TaskRequest

OPENAPI_ATTR = "__taskgate_openapi__"
F = TypeVar("F", bound=Callable[..., Any])

_STRUCTS: list[type[msgspec.Struct]] = [
    TaskRequest,
    ReleaseRequest,
    LiveConfigPatch,
    Glossary,
    Definition,
    Problem,
    WebhookEvent,
    m.TaskView,
    m.TaskList,
    m.TaskResult,
    m.TaskTypes,
    m.FileList,
    m.Uploaded,
    m.Health,
    m.Ready,
    m.WhoAmI,
    m.AuditList,
    m.KeyList,
    m.KeyView,
    KeyLimits,
    m.QueueList,
    m.QueueState,
    m.HostState,
    m.BulkResult,
    BulkRequest,
]
HIDDEN_ATTR = "__taskgate_openapi_hidden__"


def hidden(handler: F) -> F:
    """Keep a route out of the OpenAPI document (the console's HTML and files)."""
    setattr(handler, HIDDEN_ATTR, True)
    return handler


def describe(**operation: Any) -> Callable[[F], F]:
    """Attach OpenAPI operation fields (``responses``, ``parameters``, ``requestBody``...) to a handler."""

    def mark(handler: F) -> F:
        setattr(handler, OPENAPI_ATTR, operation)
        return handler

    return mark


def _rename(node: Any, renamed: dict[str, str]) -> Any:
    """Point ``$ref``s at the names msgspec chose (it qualifies a name that two Structs share)."""
    if isinstance(node, dict):
        return {k: renamed.get(v, v) if k == "$ref" else _rename(v, renamed) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename(v, renamed) for v in node]
    return node


def _task_requests(schemas: dict[str, Any], ref_of: dict[Any, dict[str, str]]) -> dict[str, Any]:
    """Add one request schema per task (``input_data`` is that task's input) and return the oneOf.

    ``input_data`` may be left out (it defaults to ``{}``) where the task's input has no required field.
    """
    base = schemas[ref_of[TaskRequest]["$ref"].rsplit("/", 1)[-1]]["properties"]
    base["callback"] = callback_schema()
    variants, mapping = [], {}
    for name, spec in sorted(REGISTRY.items()):
        key = "Request_" + re.sub(r"\W", "_", name)
        input_name = ref_of[spec.input_type]["$ref"].rsplit("/", 1)[-1]
        tighten_input(spec.input_type.__name__, spec.input_type, schemas[input_name])
        schemas[key] = {
            "type": "object",
            "title": f"{name} request",
            "description": spec.description,
            "properties": {
                "task_name": {"type": "string", "const": name},
                "input_data": ref_of[spec.input_type],
                "task_id": base["task_id"],
                "callback": base["callback"],
                "run_at": base["run_at"],
                "delay_s": base["delay_s"],
                "tenant": base["tenant"],
                "labels": base["labels"],
            },
            "required": ["task_name"] if _accepts_empty(spec.input_type) else ["task_name", "input_data"],
            "additionalProperties": False,
        }
        variants.append(ref(key))
        mapping[name] = REF.format(name=key)
    return {"oneOf": variants, "discriminator": {"propertyName": "task_name", "mapping": mapping}}


def _accepts_empty(input_type: type[msgspec.Struct]) -> bool:
    """Return whether a task runs on ``input_data: {}`` (the default when the field is left out)."""
    try:
        msgspec.convert({}, input_type)
    except msgspec.ValidationError:
        return False
    return True


def _secure(op: dict[str, Any], handler: Any, path: str, ring: KeyRing) -> dict[str, Any]:
    """Say what the auth middleware does: nothing without keys, else a key (and a scope) except on open paths."""
    scope = getattr(handler, SCOPE_ATTR, "user")
    if path in ring.open_paths or not ring.enabled:
        op["security"] = []
        return op
    op["security"] = [{"bearerAuth": []}]
    op.setdefault("responses", {}).setdefault("401", None)
    if scope != "user":
        op["x-required-scope"] = scope
        op["description"] = (op.get("description", "") + f"\n\nNeeds an API key with the `{scope}` scope.").strip()
        op["responses"].setdefault("403", None)
    return op


def _from_route(handler: Any, path: str) -> dict[str, Any]:
    """Describe a route that no table above documents (e.g. added by another module)."""
    op = dict(getattr(handler, OPENAPI_ATTR, {}))
    names = re.findall(r"{(\w+)(?::[^}]*)?}", path)
    op.setdefault("parameters", [path_param(n, n) for n in names])
    default = problem_doc("An error (or the route's own JSON answer)")
    default["content"]["application/json"] = {"schema": {}}
    op.setdefault("responses", {"200": json_doc({}, "Success"), "default": default})
    return op


def _operation(route: web.AbstractRoute, method: str, path: str, documented: Operations, ring: KeyRing) -> Any:
    doc = (route.handler.__doc__ or "").strip().splitlines()
    op = dict(documented.get((method, path)) or _from_route(route.handler, path))
    op.setdefault("summary", doc[0] if doc else path)
    op["operationId"] = method + "_" + re.sub(r"\W+", "_", path).strip("_")
    op = _secure(op, route.handler, path, ring)
    op["responses"] = {code: (r or problem_doc(PROBLEMS.get(code, "Error"))) for code, r in op["responses"].items()}
    for code, header in (("503", "Retry-After"), ("429", "Retry-After"), ("401", "WWW-Authenticate")):
        if code in op["responses"]:
            op["responses"][code] = {**op["responses"][code], "headers": {header: {"schema": {"type": "string"}}}}
    return op


def _paths(app: web.Application, documented: Operations, ring: KeyRing) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        method, info = route.method.lower(), route.resource.get_info() if route.resource else {}
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", info.get("path") or info.get("formatter") or "")
        if method != "head" and path and not getattr(route.handler, HIDDEN_ATTR, False):
            paths.setdefault(path, {})[method] = _operation(route, method, path, documented, ring)
    return dict(sorted(paths.items()))


def build_document(app: web.Application, settings: Settings) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``app`` as it is routed now."""
    types = _STRUCTS + [t for s in REGISTRY.values() for t in (s.input_type, s.output_type)]
    refs, schemas = msgspec.json.schema_components(types, ref_template=REF)
    ref_of = dict(zip(types, refs, strict=True))
    documented = operations(_task_requests(schemas, ref_of), settings) | key_operations() | search_operations()
    hook = {
        "summary": "A stage ended (SUCCESS, FAILED or CANCELLED) and the task has a callback URL",
        "description": _WEBHOOK_DESCRIPTION,
        "requestBody": {"content": {"application/json": {"schema": ref("WebhookEvent")}}},
        "responses": {"200": {"description": "Any 2xx acknowledges; 5xx, 429 and network errors are retried"}},
    }
    bearer = {"type": "http", "scheme": "bearer", "description": "An API key from auth.api_keys"}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "taskgate", "version": "1", "description": _DESCRIPTION},
        "paths": _paths(app, documented, KeyRing(settings)),
        "webhooks": {"taskEnded": {"post": hook}},
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": bearer}},
    }
    renamed = {REF.format(name=t.__name__): ref_of[t]["$ref"] for t in _STRUCTS}
    result: dict[str, Any] = _rename(document, renamed)
    return result


_DESCRIPTION = (
    "Submit AI media tasks, follow them, move files in and out. Errors are RFC 9457 problem documents "
    "(`application/problem+json`). When API keys are configured every `/v1` endpoint needs "
    "`Authorization: Bearer <key>` and admin endpoints the `admin` scope; without keys no endpoint asks for one. "
    "JSON bodies nest at most 32 levels (400 beyond); text fields that name paths or URLs take no control "
    "characters."
)
_WEBHOOK_DESCRIPTION = (
    "Signed the Standard Webhooks way: `webhook-id` (the event_id, stable across retries), `webhook-timestamp` "
    "(seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the secret). "
    "Every attempt is recorded in the task's `callback_status`."
)
