"""Where a submit waits: its priority band and its client (tenant, else key name), from the request and the key."""

from __future__ import annotations

from aiohttp import web

from actors.registry import TaskSpec
from actors.validation import InvalidInput
from config import Settings
from config.queueing import PRIORITIES
from gateway.auth import ADMIN, OPEN, PRINCIPAL, Principal
from gateway.errors import Forbidden
from state import Placement, TaskRequest


def placement(request: web.Request, settings: Settings, spec: TaskSpec, req: TaskRequest) -> Placement:
    """Return the submit's placement: the priority it asks for, else its key's, its task type's, the default.

    Raises:
        InvalidInput: the priority is not one of ``high``, ``normal``, ``low``.
        Forbidden: a key without the admin scope set ``tenant``.
    """
    principal: Principal = request.get(PRINCIPAL, OPEN)
    key = next((k for k in settings.auth.api_keys if k.name == principal.name), None)
    if req.priority is not None and req.priority not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)} (got {req.priority!r})", "$.priority")
    if req.tenant is not None and ADMIN not in principal.scopes:
        raise Forbidden(f"only an admin key may set tenant; key {principal.name!r} is a user key")
    queueing = settings.queueing
    priority = req.priority or (key.priority if key else None)
    priority = priority or queueing.task_priority.get(spec.name) or queueing.default_priority
    tenant = req.tenant or (key.tenant if key else None)
    return Placement(
        priority=priority,
        client=tenant or principal.name,
        weight=(key.weight if key else None) or 1,
        key=principal.name if key else None,
        tenant=tenant,
        lanes=queueing.priorities,
    )
